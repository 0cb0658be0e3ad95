"""The installable package: a wheel carries everything the code reads, and an installed wheel runs the demo from a
directory outside the checkout (so nothing can be found through the source tree)."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = os.environ.get("TORCH", "torch==2.13.0")  # the CPU build the Makefile pins (a local wheel here)


def build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the project (the checkout gets no build/ or egg-info), offline."""
    src = tmp / "project"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp / "dist").glob("preattentive-*.whl")
    return wheel


def test_wheel_carries_configs_suites_and_typing_marker(tmp_path):
    from importlib import resources

    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    expected = {"preattentive/py.typed", "preattentive/export/lmms_utils.py", "preattentive/evaluation/parsing.py"}
    for package, folder in (("preattentive.configs", "configs"), ("preattentive.evaluation", "evaluation/suites")):
        root = resources.files(package) if folder == "configs" else resources.files(package).joinpath("suites")
        expected |= {f"preattentive/{folder}/{p.name}" for p in root.iterdir() if p.name.endswith(".yaml")}
    assert len(expected) >= 12 and expected <= names, sorted(expected - names)
    assert not any(n.startswith(("tests/", "configs/")) for n in names)  # only the package is installed


@pytest.mark.slow
def test_installed_wheel_runs_the_quick_demo_outside_the_checkout(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, TORCH], check=True, env=env)  # the CPU torch first, as the Makefile does
    subprocess.run([*pip, str(wheel)], check=True, env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(py), "-c", "import preattentive, preattentive.configs as c; "
                            "print(preattentive.__file__); print(c.resolve_config('demo'))"],
                           cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(str(venv) in w and str(ROOT) not in w for w in where), where  # the installed copy, not the source
    r = subprocess.run([str(venv / "bin" / "preattentive"), "demo", "--quick", "--out", "demo"], cwd=elsewhere,
                       env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = elsewhere / "demo"
    assert (out / "report.html").is_file() and "report:" in r.stdout
    notes = json.loads((out / "notes.json").read_text())
    assert not [n for n in notes if "failed (" in n["text"]], notes
    from preattentive.studies.demo import DemoConfig

    # a missing packaged demo.yaml is an error (no silent fall-back to dataclass defaults), so exit 0 means the
    # installed YAML was read; its resolved quick settings are the checkout's
    assert json.loads((out / "config.json").read_text()) == json.loads(json.dumps(DemoConfig.preset(quick=True)
                                                                                  .to_dict()))
