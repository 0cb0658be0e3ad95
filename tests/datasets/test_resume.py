"""Interrupted generation (issue 17, item 4): ``kill -9`` mid-set, the same command continues it, writing only the
missing chunks, byte-identical to an uninterrupted run; the killed parent's workers exit with it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preattentive.datasets.parquet import generate_set, set_status

ARGS = ["maze", "--n", "1200", "--size", "32", "--seed", "5", "--chunk-size", "10", "--workers", "2"]


def digests(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from /proc (Linux)")
def test_kill_9_then_the_same_command_continues_byte_identical(tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "preattentive", "stimuli", "generate", *ARGS, "--out",
                             str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline, workers = time.time() + 120, []
    while time.time() < deadline and proc.poll() is None:
        workers = children(proc.pid)
        if len(workers) >= 2 and len(list(killed.glob("data-*.parquet"))) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"generation ended before it could be killed: {proc.stderr.read().decode()[-400:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t0 = time.time()
    while any(alive(w) for w in workers) and time.time() - t0 < 10:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "workers outlived their killed parent"
    present = len(list(killed.glob("data-*.parquet")))
    assert 3 <= present < 120 and set_status(killed, "maze", 1200, seed=5, params={"size": 32},
                                            chunk_size=10) == "partial"
    before = {p.name: p.stat().st_mtime_ns for p in killed.glob("data-*.parquet")}

    from typer.testing import CliRunner

    from preattentive.cli import app

    r = CliRunner().invoke(app, ["stimuli", "generate", *ARGS, "--out", str(killed)])  # the same command again
    assert r.exit_code == 0, r.output
    assert f"{len(before)} chunks already there kept" in r.output
    assert all(killed.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())  # only the missing ones
    straight = tmp_path / "straight"
    generate_set("maze", 1200, straight, seed=5, params={"size": 32}, chunk_size=10, workers=1)
    assert digests(killed) == digests(straight)  # every chunk, config.json and preview.png
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]


def test_a_rerun_of_a_complete_set_writes_nothing_new_and_another_set_is_refused(tmp_path, toy_family):
    out = tmp_path / "set"
    generate_set(toy_family, 20, out, seed=1, chunk_size=5, preview=False)
    first = digests(out)
    cfg = generate_set(toy_family, 20, out, seed=1, chunk_size=5, preview=False)
    assert cfg["chunks_kept"] == 4 and digests(out) == first
    with pytest.raises(FileExistsError, match=r"another set \(seed=1, not 2\)"):
        generate_set(toy_family, 20, out, seed=2, chunk_size=5, preview=False)
    assert digests(out) == first
    cfg = generate_set(toy_family, 20, out, seed=2, chunk_size=5, preview=False, overwrite=True)
    assert cfg["chunks_kept"] == 0 and cfg["seed"] == 2


def test_config_json_is_written_first_and_a_missing_chunk_is_rewritten(tmp_path, toy_family):
    out = tmp_path / "set"
    generate_set(toy_family, 20, out, seed=1, chunk_size=5, preview=False)
    whole = digests(out)
    (out / "data-00002-of-00004.parquet").unlink()  # what a killed run leaves: whole files, one missing
    (out / ".data-00002-of-00004.parquet.abc.tmp").write_bytes(b"half")  # and its temporary
    assert set_status(out, toy_family, 20, seed=1, chunk_size=5) == "partial"
    cfg = generate_set(toy_family, 20, out, seed=1, chunk_size=5, preview=False)
    assert cfg["chunks_kept"] == 3 and digests(out) == whole
