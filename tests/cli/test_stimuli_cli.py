"""``preattentive stimuli``: generate/preview/list through the CLI; bad input is one line and exit code 2."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from preattentive.cli import app

runner = CliRunner()


def test_generate_and_preview(tmp_path, toy_family):
    out = tmp_path / "set"
    r = runner.invoke(app, ["stimuli", "generate", toy_family, "--n", "12", "--out", str(out), "--seed", "2",
                            "--param", "n_dots=4", "--chunk-size", "5", "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "label counts 0: 6, 1: 6" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "data-00000-of-00003.parquet",
                                                     "data-00001-of-00003.parquet", "data-00002-of-00003.parquet",
                                                     "preview.png"]
    r = runner.invoke(app, ["stimuli", "preview", toy_family, "--out", str(tmp_path / "p.png"), "--cols", "3"])
    assert r.exit_code == 0 and (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("args,needle", [
    (["--n", "0"], "n=0"),
    (["--n", "5", "--size", "-3"], "size=-3"),
    (["--n", "5", "--size", "0"], "size=0"),
    (["--n", "5", "--param", "n_dots=500"], "n_dots=500"),
    (["--n", "5", "--param", "bogus=1"], "unknown parameter 'bogus'"),
    (["--n", "5", "--param", "n_dots"], "expected key=value"),
    (["--n", "5", "--shard", "4/4"], "shard '4/4'"),
    (["--n", "5", "--workers", "0"], "workers=0"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, toy_family, args, needle):
    out = tmp_path / "out"
    r = runner.invoke(app, ["stimuli", "generate", toy_family, "--out", str(out), *args])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert not out.exists()


def test_existing_output_needs_overwrite(tmp_path, toy_family):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    r = runner.invoke(app, ["stimuli", "generate", toy_family, "--n", "3", "--out", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_real_entry_point_unknown_family_no_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "preattentive", "stimuli", "generate", "no-such-family", "--n", "3",
                        "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().startswith("error: unknown stimulus family 'no-such-family'")
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
