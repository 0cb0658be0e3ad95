"""Data back in: response files -> evaluation rows (per participant and pooled) on the harness's trial keys;
incremental imports; dropped frames excluded; bad files refused in one line."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import compare_models, evaluate, read_results
from preattentive.human import export_experiment
from preattentive.human.responses import ResponseError, import_responses, read_responses
from preattentive.human.simulate import simulate_observers

runner = CliRunner()


def _as_person(path, pid, out_dir):
    """A simulated file relabelled as a person's download (what the page writes: synthetic false, key presses)."""
    rows = json.loads(path.read_text())
    for r in rows:
        r.update(participant=pid, synthetic=False, simulated_by="", response_source="key", rt_ms=412.5,
                 response_key=str(r["response"] + 1))
    p = out_dir / f"{pid}.json"
    p.write_text(json.dumps(rows))
    return p


@pytest.fixture
def people(tmp_path, toy_suite, red_seer):
    exp = export_experiment(toy_suite, tmp_path / "exp", n=4, conditions="50,unlimited", practice=2)
    sim = simulate_observers(exp, red_seer, participants=2, out=tmp_path / "sim")
    return exp, [_as_person(p, f"p0{k + 1}", tmp_path) for k, p in enumerate(sim)]


def test_import_rows_pair_with_the_model(tmp_path, toy_suite, people, red_seer):
    exp, files = people
    study = tmp_path / "study"
    s = import_responses(files, study)
    assert s["participants"] == ["p01", "p02"] and s["synthetic"] == [] and s["test_trials"] == 16
    rows = read_results(study / "eval")
    assert sorted(rows["model"].unique()) == ["human:p01", "human:p02", "human:pooled"]
    assert sorted(rows["method"].unique()) == ["masked-50", "unlimited"]
    keys = {b.trial_key(i) for b in toy_suite.blocks(4) for i in range(4)}
    assert set(rows["trial_key"]) == keys  # list 0 + list 1: every trial, the harness's keys
    assert rows["correct"].all()  # the red seer is always right
    pooled = rows[rows["model"] == "human:pooled"]
    assert len(pooled) == 16 and pooled["trial_key"].nunique() == 8
    raw = json.loads(pooled["raw"].iloc[0])
    assert raw["rt_ms"] == 412.5 and raw["participant"] in ("p01", "p02") and set(rows["parse"]) == {"key"}
    trials = pd.read_parquet(study / "human" / "trials.parquet")
    assert set(trials["phase"]) == {"practice", "test"} and len(trials) == 2 * (8 + 2)
    notes = json.loads((study / "notes.json").read_text())
    assert any("2 participant(s)" in n["text"] for n in notes)

    evaluate(red_seer, toy_suite, n=4, out=study, progress=False)  # the model on the same trials
    c = compare_models(read_results(study / "eval"), "human:p01", "stub:red", method_a="masked-50")
    assert c["n"].sum() == 4 and (c["acc_a"] == 1).all() and (c["p_value"] == 1).all()


def test_import_is_incremental_and_replaces_a_reimported_participant(tmp_path, people):
    _, (p1, p2) = people
    study = tmp_path / "study"
    import_responses([p1], study)
    import_responses([p2], study)
    rows = read_results(study / "eval")
    assert len(rows[rows["model"] == "human:pooled"]) == 16
    s = import_responses([p1], study)  # again: replaced, not doubled
    assert s["participants"] == ["p01", "p02"]
    assert len(read_results(study / "eval").query("model == 'human:pooled'")) == 16


def test_dropped_frames_are_excluded_and_counted(tmp_path, people):
    _, (p1, _) = people
    rows = json.loads(p1.read_text())
    bad = next(r for r in rows if r["phase"] == "test" and r["condition"] == "masked-50")
    bad.update(timing_ok=False, stim_frames=4, stim_ms=66.7)
    p1.write_text(json.dumps(rows))
    s = import_responses([p1], tmp_path / "a")
    assert s["excluded"] == {"timing": 1}
    got = read_results(tmp_path / "a" / "eval")
    assert bad["trial_key"] not in set(got[got["model"] == "human:p01"]["trial_key"])
    s = import_responses([p1], tmp_path / "b", keep_bad_timing=True)
    assert s["excluded"] == {"timing": 0} and len(read_results(tmp_path / "b" / "eval")) == 16


def _mutate(path, fn):
    rows = json.loads(path.read_text())
    fn(rows)
    path.write_text(json.dumps(rows))
    return path


def _first_test(rows):
    return next(r for r in rows if r["phase"] == "test")


@pytest.mark.parametrize("mutate,needle", [
    (lambda rs: _first_test(rs).update(label=1 - _first_test(rs)["label"],
                                       correct=_first_test(rs)["response"] == 1 - _first_test(rs)["label"]),
     "the generator gives"),
    (lambda rs: _first_test(rs).update(correct=not _first_test(rs)["correct"]), "expected correct = (response"),
    (lambda rs: _first_test(rs).update(response=7), "response=7"),
    (lambda rs: _first_test(rs).update(preattentive="other/9"), "preattentive='other/9'"),
    (lambda rs: _first_test(rs).update(participant="pooled"), "participant='pooled'"),
    (lambda rs: _first_test(rs).update(condition="masked-80"), "condition='masked-80'"),
    (lambda rs: [r.pop("rt_ms") for r in rs], "lacks columns ['rt_ms']"),
    (lambda rs: rs.append(dict(_first_test(rs), response=1 - _first_test(rs)["response"],
                               correct=not _first_test(rs)["correct"])), "twice"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, people, mutate, needle):
    _, (p1, _) = people
    _mutate(p1, mutate)
    r = runner.invoke(app, ["human", "import", str(p1), "--out", str(tmp_path / "s")])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert not (tmp_path / "s" / "eval").exists()


def test_csv_download_and_other_errors(tmp_path, people):
    _, (p1, p2) = people
    rows = json.loads(p1.read_text())
    csv = tmp_path / "p01.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)  # what jsPsych's csv() writes: every value as text
    assert read_responses([csv]).drop(columns="source").equals(read_responses([p1]).drop(columns="source"))
    same_twice = read_responses([p1, p1])  # the same file given twice: identical rows kept once
    assert len(same_twice) == len(read_responses([p1]))
    other = _mutate(p2, lambda rs: [r.update(experiment_id="ffffffffffff") for r in rs])
    with pytest.raises(ResponseError, match="one experiment per import"):
        read_responses([p1, other])
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ResponseError, match="expected a .csv or .json"):
        read_responses([tmp_path / "x.txt"])
    with pytest.raises(ResponseError, match="does not exist"):
        read_responses([tmp_path / "none.csv"])
