"""Issue 17's bad-input table: every case exits 2 with one line naming the value and the expectation, and writes
nothing (not a file, not a folder, not a changed byte of the inputs).

Each row is (case, command, words the one-line message must contain). The fixtures are tiny real runs (a 2-step
cnn-30k, a micro CLIP, a micro LLaVA) plus damaged copies of them, built once for the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from preattentive.cli import app

runner = CliRunner()

SUP = ["train", "supervised", "--model", "cnn-30k", "--task", "curve-tracing", "--size", "32", "--steps", "2",
       "--batch-size", "4", "--val-n", "8", "-q"]
CMP = ["compare", "--task", "curve-tracing", "--budget-steps", "2", "--batch-size", "4", "--test-n", "8", "-q"]
CLIP = ["train", "clip", "--preset", "clip-micro", "--batch-size", "8", "--steps", "2"]
LLAVA = ["train", "llava", "--preset", "llava-micro", "--batch-size", "4", "--stage1-steps", "1",
         "--stage2-steps", "1"]
EVAL = ["eval", "--suite", "quick", "--n", "1", "-q"]


def _step_dir(run: Path) -> Path:
    return next((run / "checkpoint").glob("step-*"))


def _damage(path: Path, how: str) -> None:
    path.write_bytes(b"" if how == "empty" else path.read_bytes()[:100]) if how in ("empty", "truncate") else \
        path.write_text(how)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The workspace: finished runs, damaged copies, YAML files, a 48 px curve-tracing set, a non-empty folder."""
    from preattentive.datasets.parquet import generate_set
    from preattentive.training import TrainConfig, train_supervised
    from preattentive.training.clip import train_clip
    from preattentive.training.llava import train_llava

    w = tmp_path_factory.mktemp("bad-input")
    train_supervised(TrainConfig(model="cnn-30k", task="curve-tracing", size=32, steps=2, batch_size=4, val_n=8),
                     w / "sup", show_progress=False)
    train_clip(preset="clip-micro", steps=2, minutes=None, batch_size=8, eval_every=0, eval_n=8, out=w / "clip")
    train_llava(vision=str(w / "clip"), preset="llava-micro", stage1_steps=1, stage2_steps=1, batch_size=4,
                eval_n=4, max_new_tokens=4, out=w / "llava")
    for name, src, rel, how in [
            ("sup_empty", "sup", "model/model.safetensors", "empty"),
            ("sup_trunc", "sup", "model/model.safetensors", "truncate"),
            ("sup_ck", "sup", "CK/model.safetensors", "truncate"),
            ("sup_state", "sup", "CK/state.json", "{not json"),
            ("sup_list", "sup", "run.json", "[1, 2]"),
            ("clip_ck", "clip", "CK/model.safetensors", "truncate"),
            ("clip_bad", "clip", "model/model.safetensors", "truncate"),
            ("llava_bad", "llava", "model/model.safetensors", "empty")]:
        shutil.copytree(w / src, w / name)
        target = _step_dir(w / name) / rel[3:] if rel.startswith("CK/") else w / name / rel
        _damage(target, how)
    import cv2

    cv2.imwrite(str(w / "img.png"), np.zeros((64, 64, 3), np.uint8))
    generate_set("curve-tracing", 8, w / "ct48", params={"size": 48}, preview=False)
    (w / "nonempty").mkdir()
    (w / "nonempty" / "keep.txt").write_text("x")
    study = w / "cmpstudy"
    study.mkdir()
    (study / "compare.json").write_text("{oops")
    import pandas as pd

    pd.DataFrame({"model": ["cnn-30k"], "accuracy": [0.5]}).to_parquet(study / "results.parquet")
    yamls = {
        "list.yaml": "- a\n- b\n", "models5.yaml": "models: 5\n", "tests1.yaml": "tests: [1]\n",
        "params1.yaml": "params: [1]\n", "lr.yaml": "lr: abc\n", "syntax.yaml": "models: [cnn-30k\ntask: x\n",
        "stage.yaml": "curriculum:\n  - name: ../../../../X\n    budget_steps: 1\n",
        "suite_seed.yaml": "seed: abc\nfamilies: [curve-tracing]\n", "suite_fam.yaml": "families: [1]\n",
        "suite_syntax.yaml": "families: [a\n", "bn_budgets.yaml": "budgets: abc\n",
        "bn_tasks.yaml": "tasks: [counting]\n", "bn_nine.yaml": "budgets: [9]\n", "bn_syntax.yaml": "steps: [1\n",
        "demo_seed.yaml": "seed: abc\n", "demo_tasks.yaml": "net_tasks: 5\n", "demo_syntax.yaml": "seed: [\n"}
    for name, text in yamls.items():
        (w / name).write_text(text)
    return w


# (case, command with {W} for the workspace and {O} for a fresh output path, words in the message)
CASES = [
    # 1. tracebacks on corrupt or malformed input
    ("1-eval-empty-safetensors", EVAL + ["--model", "run:{W}/sup_empty", "--family", "curve-tracing", "--out", "{O}"],
     ["sup_empty/model/model.safetensors", "not a readable safetensors file", "header too small"]),
    ("1-init-from-truncated", SUP + ["--init-from", "{W}/sup_trunc", "--out", "{O}"],
     ["sup_trunc/model/model.safetensors", "not a readable safetensors file"]),
    ("1-resume-truncated-checkpoint", ["train", "supervised", "--out", "{W}/sup_ck", "--resume", "--steps", "4", "-q"],
     ["sup_ck/checkpoint/step-00000002/model.safetensors", "not a readable safetensors file"]),
    ("1-clip-resume-truncated-checkpoint", CLIP[:-2] + ["--steps", "4", "--resume", "--out", "{W}/clip_ck"],
     ["clip_ck/checkpoint/step-00000002/model.safetensors", "not a readable safetensors file"]),
    ("1-llava-vision-truncated", LLAVA + ["--vision", "{W}/clip_bad", "--out", "{O}"],
     ["clip_bad/model/model.safetensors", "not a readable safetensors file"]),
    ("1-ask-empty-safetensors", ["ask", "{W}/llava_bad", "{W}/img.png", "what color?"],
     ["llava_bad/model/model.safetensors", "header too small"]),
    ("1-compare-yaml-list", ["compare", "--config", "{W}/list.yaml", "--out", "{O}"],
     ["list.yaml", "expected a mapping of study settings", "got a YAML list"]),
    ("1-compare-yaml-models-5", CMP + ["--config", "{W}/models5.yaml", "--out", "{O}"],
     ["models5.yaml", "models=5", "expected a list"]),
    ("1-compare-yaml-tests-1", CMP + ["--models", "cnn-30k", "--config", "{W}/tests1.yaml", "--out", "{O}"],
     ["tests1.yaml", "tests[0]=1", "expected a mapping of TestCondition settings"]),
    ("1-compare-yaml-params-list", CMP + ["--models", "cnn-30k", "--config", "{W}/params1.yaml", "--out", "{O}"],
     ["params1.yaml", "params=[1]", "expected a mapping"]),
    ("1-compare-yaml-lr-abc", CMP + ["--models", "cnn-30k", "--config", "{W}/lr.yaml", "--out", "{O}"],
     ["lr.yaml", "lr='abc'", "expected a number"]),
    ("1-compare-yaml-syntax", ["compare", "--config", "{W}/syntax.yaml", "--out", "{O}"],
     ["syntax.yaml", "not valid YAML at line 2 column 5"]),
    ("1-suite-yaml-seed-abc", EVAL[:-3] + ["--model", "run:{W}/sup", "--suite", "{W}/suite_seed.yaml", "--out", "{O}"],
     ["suite_seed.yaml", "seed='abc'", "expected an integer"]),
    ("1-suite-yaml-families-int", ["eval", "--model", "run:{W}/sup", "--suite", "{W}/suite_fam.yaml", "--out", "{O}"],
     ["suite_fam.yaml", "families[0]=1", "expected a mapping"]),
    ("1-suite-yaml-syntax", ["eval", "--model", "run:{W}/sup", "--suite", "{W}/suite_syntax.yaml", "--out", "{O}"],
     ["suite_syntax.yaml", "not valid YAML at line 2"]),
    ("1-bottleneck-yaml-list", ["bottleneck", "--config", "{W}/list.yaml", "--out", "{O}"],
     ["list.yaml", "expected a mapping of bottleneck config settings"]),
    ("1-bottleneck-yaml-budgets-abc", ["bottleneck", "--config", "{W}/bn_budgets.yaml", "--out", "{O}"],
     ["bn_budgets.yaml", "budgets='abc'", "expected a list"]),
    ("1-bottleneck-yaml-tasks-list", ["bottleneck", "--config", "{W}/bn_tasks.yaml", "--out", "{O}"],
     ["bn_tasks.yaml", "tasks=['counting']", "expected a mapping"]),
    ("1-bottleneck-yaml-syntax", ["bottleneck", "--config", "{W}/bn_syntax.yaml", "--out", "{O}"],
     ["bn_syntax.yaml", "not valid YAML"]),
    ("1-demo-yaml-list", ["demo", "--config", "{W}/list.yaml", "--out", "{O}"],
     ["list.yaml", "expected a mapping of demo config settings"]),
    ("1-demo-yaml-seed-abc", ["demo", "--quick", "--config", "{W}/demo_seed.yaml", "--out", "{O}"],
     ["demo_seed.yaml", "seed='abc'", "expected an integer"]),
    ("1-demo-yaml-net-tasks-5", ["demo", "--quick", "--config", "{W}/demo_tasks.yaml", "--out", "{O}"],
     ["demo_tasks.yaml", "net_tasks=5", "expected a list"]),
    ("1-demo-yaml-syntax", ["demo", "--config", "{W}/demo_syntax.yaml", "--out", "{O}"],
     ["demo_syntax.yaml", "not valid YAML"]),
    ("1-run-json-list-eval", ["eval", "--model", "run:{W}/sup_list", "--out", "{O}", "-q"],
     ["sup_list/run.json", "expected a JSON object", "got a JSON list"]),
    ("1-run-json-list-resume", ["train", "supervised", "--out", "{W}/sup_list", "--resume", "--steps", "4", "-q"],
     ["sup_list/run.json", "expected a JSON object"]),
    ("1-run-json-list-init-from", SUP + ["--init-from", "{W}/sup_list", "--out", "{O}"],
     ["sup_list/run.json", "expected a JSON object"]),
    ("1-eval-device-tpu", ["eval", "--model", "run:{W}/sup", "--device", "tpu", "--out", "{O}", "-q"],
     ["--device='tpu'", "expected cpu, cuda, cuda:N or mps"]),
    ("1-ask-device-tpu", ["ask", "{W}/llava", "{W}/img.png", "what?", "--device", "tpu"],
     ["--device='tpu'", "expected cpu, cuda"]),
    ("1-eval-device-cuda-9", ["eval", "--model", "run:{W}/sup", "--device", "cuda:9", "--out", "{O}", "-q"],
     ["--device='cuda:9'"]),  # no CUDA build: "no CUDA support"; a GPU machine: "only N CUDA device(s)"
    ("1-ask-offline-hub-id", ["ask", "someone/llava-x", "{W}/img.png", "what?"],
     ["'someone/llava-x'", "HF_HUB_OFFLINE=1"]),
    ("1-llava-offline-hub-vision", LLAVA + ["--vision", "someone/clip-x", "--out", "{O}"],
     ["'someone/clip-x'", "not in the Hugging Face cache"]),
    ("1-generate-seed-overflow", ["stimuli", "generate", "maze", "--n", "4", "--seed", "99999999999999999999999",
                                  "--out", "{O}"],
     ["seed=99999999999999999999999", "expected an integer in [0, 4294967295]"]),
    ("1-preview-out-is-dir", ["stimuli", "preview", "maze", "--out", "{W}/nonempty"],
     ["nonempty' is a directory", "expected the path of a .png file"]),
    ("1-net-param-widths-abc", SUP + ["--net-param", "widths=abc", "--out", "{O}"],
     ["net option widths='abc'", "expected a list"]),
    # 2. failed commands leave state behind
    ("2-supervised-data-missing", SUP + ["--data", "/nonexistent", "--out", "{O}"],
     ["data='/nonexistent'", "no such directory", "expected a stimulus set"]),
    ("2-clip-lr-negative", CLIP + ["--lr", "-1", "--out", "{O}"], ["lr=-1.0", "expected > 0"]),
    ("2-compare-unknown-model-before-training", CMP + ["--models", "cnn-30k,nosuch", "--out", "{O}"],
     ["unknown net 'nosuch'"]),
    ("2-bottleneck-steps-negative", ["bottleneck", "--steps", "-1", "--out", "{O}"],
     ["steps=-1", "expected an integer >= 1"]),
    ("2-bottleneck-unknown-budget-before-data", ["bottleneck", "--config", "{W}/bn_nine.yaml", "--out", "{O}"],
     ["unknown net 'budget-9-late'"]),
    # 3. accepted nonsense
    ("3-clip-steps-negative", CLIP[:-2] + ["--steps", "-1", "--out", "{O}"], ["steps=-1", "expected an integer >= 1"]),
    ("3-llava-stage1-steps-negative", LLAVA[:-4] + ["--vision", "{W}/clip", "--stage1-steps", "-1", "--out", "{O}"],
     ["stage1_steps=-1", "expected an integer >= 0"]),
    ("3-clip-out-not-empty", CLIP + ["--out", "{W}/nonempty"],
     ["nonempty' already exists and is not empty", "keep.txt"]),
    ("3-clip-resume-nothing", CLIP + ["--resume", "--out", "{O}"], ["nothing to resume", "no run.json"]),
    ("3-llava-resume-nothing", LLAVA + ["--vision", "{W}/clip", "--resume", "--out", "{O}"],
     ["nothing to resume", "no run.json"]),
    ("3-supervised-resume-nothing", ["train", "supervised", "--resume", "--steps", "3", "--out", "{O}", "-q"],
     ["is not a run directory", "run.json"]),
    ("3-clip-threads-0", CLIP + ["--threads", "0", "--out", "{O}"], ["threads=0", "expected an integer >= 1"]),
    ("3-llava-threads-0", LLAVA + ["--vision", "{W}/clip", "--threads", "0", "--out", "{O}"],
     ["threads=0", "expected an integer >= 1"]),
    ("3-data-disagrees-with-task", ["train", "supervised", "--model", "cnn-30k", "--task", "maze", "--size", "32",
                                    "--steps", "2", "--data", "{W}/ct48", "--out", "{O}", "-q"],
     ["ct48' holds curve-tracing-v1 trials", "expected maze-v2"]),
    ("3-data-disagrees-with-size", ["train", "supervised", "--model", "cnn-30k", "--task", "curve-tracing",
                                    "--size", "32", "--steps", "2", "--data", "{W}/ct48", "--out", "{O}", "-q"],
     ["ct48' holds 48 px images", "expected 32 px"]),
    ("3-param-size-vs-size-train", SUP + ["--param", "size=48", "--out", "{O}"],
     ["--param size=48 conflicts with --size 32"]),
    ("3-param-size-vs-size-generate", ["stimuli", "generate", "maze", "--n", "4", "--size", "64", "--param",
                                       "size=32", "--out", "{O}"], ["--param size=32 conflicts with --size 64"]),
    ("3-param-size-vs-size-compare", CMP + ["--models", "cnn-30k", "--size", "32", "--param", "size=48",
                                            "--out", "{O}"], ["--param size=48 conflicts with --size 32"]),
    ("3-curriculum-stage-escapes", CMP + ["--models", "cnn-30k", "--config", "{W}/stage.yaml", "--out", "{O}"],
     ["stage.yaml", "curriculum stage name '../../../../X'", "expected a plain name"]),
    # 7. messages that did not name the value or the file
    ("7-report-compare-json", ["report", "{W}/cmpstudy"],
     ["cmpstudy/compare.json", "not valid JSON at line 1 column 2"]),
    ("7-resume-state-json", ["train", "supervised", "--out", "{W}/sup_state", "--resume", "--steps", "4", "-q"],
     ["sup_state/checkpoint/step-00000002/state.json", "not valid JSON"]),
]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case,args,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(ws, tmp_path, monkeypatch, case, args, words):
    monkeypatch.chdir(tmp_path)  # a relative default output (preview-*.png, runs/...) would land here
    out = tmp_path / "out"
    argv = [a.replace("{W}", str(ws)).replace("{O}", str(out)) for a in args]
    before = _snapshot(ws)
    r = runner.invoke(app, argv)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2, f"exit {r.exit_code}: {r.output[-800:]} {r.exception!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert _snapshot(ws) == before  # no input touched, nothing written next to it
    assert not list(tmp_path.iterdir())  # and no output folder or file


@pytest.mark.parametrize("args,words", [
    (["compare", "--config", "{W}/list.yaml", "--out", "{O}"], ["got a YAML list"]),
    (["stimuli", "generate", "maze", "--n", "4", "--seed", "99999999999999999999999", "--out", "{O}"],
     ["expected an integer in [0, 4294967295]"]),
])
def test_real_entry_point_prints_one_line_without_traceback(ws, tmp_path, args, words):
    argv = [a.replace("{W}", str(ws)).replace("{O}", str(tmp_path / "out")) for a in args]
    p = subprocess.run([sys.executable, "-m", "preattentive", *argv], capture_output=True, text=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and all(w in p.stderr for w in words), p.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # transformers retries the unreachable hub for ~30 s before it gives up
@pytest.mark.parametrize("args,words", [
    (["ask", "someone/llava-x", "{W}/img.png", "what?"], ["model 'someone/llava-x'", "couldn't connect"]),
    (LLAVA + ["--vision", "someone/clip-x", "--out", "{O}"], ["vision='someone/clip-x'", "couldn't connect"]),
])
def test_unreachable_hub_id_is_one_line_and_writes_nothing(ws, tmp_path, args, words):
    # not offline, but no hub: HF_ENDPOINT points at a closed local port
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    argv = [a.replace("{W}", str(ws)).replace("{O}", str(tmp_path / "out")) for a in args]
    p = subprocess.run([sys.executable, "-m", "preattentive", *argv], capture_output=True, text=True, env=env,
                       timeout=300)
    # huggingface_hub logs its retries ("Retrying in 4s [Retry 3/5]") while it waits; the error is one line, last
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-800:]
    assert len(errors) == 1 and p.stderr.strip().splitlines()[-1] == errors[0], p.stderr[-800:]
    assert all(w in errors[0] for w in words), errors
    assert not (tmp_path / "out").exists()
