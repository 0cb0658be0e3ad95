"""The simulated observer: a model answers the exported trials (verified against the exported images), marked
synthetic everywhere; recurrent steps per condition; lapses; and the CLI end to end into a report where the
synthetic people and the model share a psychometric panel."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.human import export_experiment, load_manifest
from preattentive.human.design import DesignError
from preattentive.human.responses import import_responses, read_responses
from preattentive.human.simulate import simulate_observers, summarize, trials_for_ci

runner = CliRunner()


@pytest.fixture
def exp(tmp_path, toy_suite):
    return export_experiment(toy_suite, tmp_path / "exp", n=4, conditions="50,unlimited", practice=2)


def test_simulated_observers_answer_the_exported_trials(tmp_path, exp, red_seer):
    paths = simulate_observers(exp, red_seer, participants=3, out=tmp_path / "sim")
    assert [p.name for p in paths] == [f"synthetic-stub-red-0{k}.json" for k in (1, 2, 3)]
    m = load_manifest(exp)
    t = read_responses(paths)
    assert t["synthetic"].all() and (t["simulated_by"] == "stub:red [zero-shot]").all()
    assert t["correct"].all() and (t["response_source"] == "simulated").all() and t["rt_ms"].isna().all()
    for k, pid in enumerate(sorted(t["participant"].unique())):  # participant k runs list k mod 2, in order
        mine = t[(t["participant"] == pid) & (t["phase"] == "test")].sort_values("trial_number")
        assert [[a, b] for a, b in zip(mine["trial_key"], mine["condition"])] == m["lists"][k % 2]
    again = simulate_observers(exp, red_seer, participants=3, out=tmp_path / "sim2")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    s = import_responses(paths, tmp_path / "study")
    assert s["synthetic"] == s["participants"] and "human:pooled-synthetic" in s["models"]
    assert "human:pooled" not in s["models"]
    notes = json.loads((tmp_path / "study" / "notes.json").read_text())
    assert any(n["text"].startswith("SYNTHETIC:") and "stub:red" in n["text"] for n in notes)


def test_steps_per_condition_and_lapses(tmp_path, exp, slow_seer):
    paths = simulate_observers(exp, slow_seer, out=tmp_path / "sim", steps="50=1,unlimited=3", participants=2)
    t = read_responses(paths)
    test = t[t["phase"] == "test"]
    acc = test.groupby("condition")["correct"].mean()
    red = test["label"] == 1
    assert acc["unlimited"] == 1.0  # 3 iterations: the slow seer sees red
    assert (test[test["condition"] == "masked-50"]["correct"] == ~red[test["condition"] == "masked-50"]).all()
    lapsed = simulate_observers(exp, slow_seer, out=tmp_path / "lapse", lapse=0.5, participants=2, seed=4)
    lt = read_responses(lapsed)
    k = int((lt["response_source"] == "simulated-lapse").sum())
    assert 0 < k < len(lt)  # about half: a binomial(20, 0.5) draw
    g = summarize(lapsed)
    assert set(g["condition"]) == {"masked-50", "unlimited"} and (g["trials_needed"] > 0).all()
    assert trials_for_ci(0.5, 0.1) == 97  # 1.96^2 * 0.25 / 0.01 = 96.04 -> 97


def test_simulate_errors(tmp_path, exp, red_seer, slow_seer):
    with pytest.raises(DesignError, match="needs a method with a 'steps' option"):
        simulate_observers(exp, red_seer, out=tmp_path / "s", steps="50=1")
    with pytest.raises(DesignError, match="steps 'masked-70=1'"):
        simulate_observers(exp, slow_seer, out=tmp_path / "s", steps="masked-70=1")
    with pytest.raises(DesignError, match="lapse=1.5"):
        simulate_observers(exp, red_seer, out=tmp_path / "s", lapse=1.5)
    m = json.loads((exp / "experiment.json").read_text())
    first = next(iter(m["trials"]))
    m["trials"][first]["image"] = "0" * 16  # as if the stimulus code had changed since the export
    (exp / "experiment.json").write_text(json.dumps(m))
    with pytest.raises(DesignError, match="regenerates to a different image"):
        simulate_observers(exp, red_seer, out=tmp_path / "s")


def test_cli_simulate_import_eval_report(tmp_path, toy_suite_file):
    """The whole pipeline with a real model spec (a tiny random CLIP saved to disk): export -> simulate ->
    import -> eval -> report, human (synthetic) and model curves in the same panel."""
    from preattentive.models.clip import build_clip

    clip = tmp_path / "clip"
    build_clip("clip-micro", texts=["is there a red dot ?", "blue dots", "a red dot"], seed=0).save(clip)
    exp, study = tmp_path / "exp", tmp_path / "study"
    for args in (["human", "export", "--suite", str(toy_suite_file), "--n", "4", "--durations", "50,unlimited",
                  "--out", str(exp)],
                 ["human", "simulate", str(exp), "--model", f"hf-clip:{clip}", "--participants", "2", "--out",
                  str(exp / "synthetic"), "--lapse", "0.1"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    assert "SYNTHETIC: 2 simulated participant(s)" in r.output and "trials for ±0.05" in r.output
    files = sorted(str(p) for p in (exp / "synthetic").glob("*.json"))
    for args in (["human", "import", *files, "--out", str(study)],
                 ["eval", "--model", f"hf-clip:{clip}", "--suite", str(toy_suite_file), "--n", "4", "--out",
                  str(study), "-q"],
                 ["report", str(study), "--no-svg"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    res = pd.read_csv(study / "tables" / "results.csv")
    panel = res.groupby("task")["model"].apply(set)
    assert all({"human:pooled-synthetic", f"hf-clip:{clip}"} <= s for s in panel)
    page = (study / "report.html").read_text()
    assert "SYNTHETIC: human:synthetic-" in page and "human:pooled-synthetic" in page
    # the figure draws the pooled curves and says so — unless the curves cannot move (4 trials per rung of a random
    # model: every CI contains chance), when the report lists them as not informative instead of drawing them
    ni = study / "tables" / "not_informative.csv"
    listed = ni.is_file() and "human:pooled-synthetic" in set(pd.read_csv(ni)["model"])
    assert "People: pooled over participants" in page or listed


def test_cli_simulate_errors(tmp_path, exp):
    r = runner.invoke(app, ["human", "simulate", str(exp), "--model", "nope", "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and r.output.startswith("error: unknown model spec 'nope'")
    r = runner.invoke(app, ["human", "simulate", str(tmp_path / "none"), "--model", "nope", "--out",
                            str(tmp_path / "s")])
    assert r.exit_code == 2 and "no experiment.json" in r.output
