"""The evaluation loop: one schema for every method, caching per (model, trial), aggregates and comparisons."""

import json

import pandas as pd
import pytest

from preattentive.evaluation import (COLUMNS, accuracy_table, compare_all, compare_models, evaluate,
                                     psychometric_table)
from preattentive.evaluation.suites import Suite, SuiteEntry

from .conftest import RedDetector, has_red


def test_zero_shot_rows_follow_the_schema(toy_suite):
    df = evaluate(RedDetector(), toy_suite, progress=False)
    assert list(df.columns) == list(COLUMNS) and len(df) == 16  # 2 levels x 8 trials
    assert df["method"].unique().tolist() == ["zero-shot"] and set(df["level"]) == {0, 1}
    assert df["correct"].all() and (df["chance"] == 0.5).all()
    assert json.loads(df["raw"].iloc[0])[df["prediction"].iloc[0]] >= 0.5
    assert df["trial_key"].is_unique and df.attrs["computed"] == 16


def test_cache_second_run_computes_nothing(tmp_path, toy_suite):
    m = RedDetector()
    a = evaluate(m, toy_suite, out=tmp_path, progress=False, batch_size=3)
    assert m.seen == 16 and len(list((tmp_path / "eval").glob("*.parquet"))) == 1
    b = evaluate(m, toy_suite, out=tmp_path, progress=False)
    assert m.seen == 16 and b.attrs["computed"] == 0
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    c = evaluate(m, toy_suite, n=12, out=tmp_path, progress=False)  # only the 2 x 4 new trials
    assert m.seen == 24 and c.attrs["computed"] == 8 and len(c) == 24
    m2 = RedDetector()
    m2.fingerprint = "retrained"  # new weights: cached rows are stale
    evaluate(m2, toy_suite, out=tmp_path, progress=False)
    assert m2.seen == 16


def test_generative_parses_answers(toy_suite):
    m = RedDetector()
    df = evaluate(m, toy_suite, method="generative", progress=False)
    assert set(df["parse"]) == {"yes/no", "letter"} and df["correct"].all()
    assert m.questions[0] == "Is there a red dot? Answer with one of: no or yes."
    evaluate(m, toy_suite, method="generative", template="{question}", progress=False)
    assert m.questions[0] == "Is there a red dot?"


def test_probe_is_cross_validated_per_block(tmp_path, toy_suite):
    m = RedDetector()
    df = evaluate(m, toy_suite, method="probe", n=20, out=tmp_path, progress=False, folds=4)
    assert (df["parse"] == "cv-argmax").all() and df["correct"].mean() > 0.8  # max red channel separates labels
    assert [p.name[:27] for p in (tmp_path / "eval").glob("*.parquet")] == ["stub-red__probe-last-tlast-"]
    evaluate(m, toy_suite, method="probe", n=20, out=tmp_path, progress=False, folds=4)
    assert m.seen == 40  # cached
    few = evaluate(m, toy_suite, method="probe", n=2, progress=False)  # 1 trial per label: no probe, said so
    assert len(few) == 0 and len(few.attrs["skipped"]) == 2 and "needs >= 2 trials" in few.attrs["skipped"][0]
    with pytest.raises(ValueError, match="no option 'bogus'"):
        evaluate(m, toy_suite, method="probe", bogus=1, progress=False)


def test_aggregates_fit_and_compare(toy_suite):
    good = evaluate(RedDetector("good"), toy_suite, progress=False)
    bad = good.assign(model="coin", correct=good["index"] % 2 == 0)  # a model that is right on even trials
    df = pd.concat([good, bad], ignore_index=True)
    acc = accuracy_table(df)
    assert len(acc) == 4 and acc.loc[acc["model"] == "good", "accuracy"].eq(1.0).all()
    row = acc[acc["model"] == "coin"].iloc[0]
    assert row["k"] == 4 and row["ci_lo"] < 0.5 < row["ci_hi"]
    fits = psychometric_table(df)
    assert set(fits["model"]) == {"good", "coin"} and (fits["n_levels"] == 2).all()
    cmp = compare_models(df, "good", "coin")
    assert cmp.iloc[0][["n", "only_a", "only_b"]].tolist() == [16, 8, 0]
    assert cmp.iloc[0]["p_value"] == pytest.approx(2 / 2**8)
    assert len(compare_all(df)) == 1


def test_supervised_run_dir(tmp_path, toy_family):
    torch = pytest.importorskip("torch")
    from preattentive.models import make_net, save_net

    torch.manual_seed(0)
    net = make_net("cnn-30k", num_classes=2, image_size=32)
    run = tmp_path / "run"
    save_net(net, run / "model")
    (run / "run.json").write_text(json.dumps({"kind": "supervised", "model_dir": "model",
                                              "task": {"family": toy_family, "params": {}}, "config": {}}))
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=1, size=32, n=4)
    df = evaluate(f"run:{run}", suite, progress=False)
    assert len(df) == 8 and (df["method"] == "supervised").all() and df["prediction"].between(0, 1).all()
    longer = evaluate(f"run:{run}", suite, steps=3, progress=False)  # test-time steps (a feedforward net ignores)
    assert (longer["method"] == "supervised@t3").all() and (longer["prediction"] == df["prediction"]).all()
    probe = evaluate(f"run:{run}", suite, method="probe", n=8, progress=False, folds=2)
    assert len(probe) == 16 and set(probe["prediction"]) <= {0, 1}
    with pytest.raises(ValueError, match="does not support method 'generative'"):
        evaluate(f"run:{run}", suite, method="generative", progress=False)


def test_independent_check_of_stand_in(toy_suite):
    # the stand-in's perception agrees with the family's labels (so the accuracy above is a real measurement)
    gen = toy_suite.blocks()[0].generator()
    assert all(has_red(gen.trial(i).image) == bool(gen.trial(i).label) for i in range(10))


def test_same_family_with_other_parameters_is_another_task(toy_family):
    suite = Suite("two", (SuiteEntry(toy_family, "all", {"size": 48}), SuiteEntry(toy_family, [0])), seed=0,
                  size=32, n=4)
    one = evaluate(RedDetector(), Suite("one", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=2), progress=False)
    assert set(accuracy_table(one)["task"]) == {toy_family}  # a parameter shared by all rows is not named
    df = evaluate(RedDetector(), suite, progress=False)
    assert len(df) == 12 and df["trial_key"].is_unique
    acc = accuracy_table(df)
    assert sorted(acc["task"].unique()) == ["toy-dots-v1 [size=32]", "toy-dots-v1 [size=48]"]
    assert len(acc) == 3  # 2 levels at 48 px + 1 at 32 px: never pooled
    cmp = compare_models(pd.concat([df, df.assign(model="copy")]), "stub:red", "copy")
    assert cmp["task"].tolist() == ["toy-dots-v1 [size=32]", "toy-dots-v1 [size=48]"] and cmp["n"].tolist() == [4, 8]


def test_probe_sweep_finds_when_information_arrives(toy_family):
    from preattentive.evaluation import probe_sweep

    from .conftest import SteppedNet

    suite = Suite("toy", (SuiteEntry(toy_family, [0]),), seed=2, size=32, n=24)
    df = probe_sweep(SteppedNet(), suite, layers=["early", "late"], steps=[0, 1, 2, 3], progress=False, folds=4)
    acc = df.groupby("method")["correct"].mean()
    assert len(acc) == 8 and acc["probe:late@t2"] == 1.0 and acc["probe:late@t3"] == 1.0
    assert acc[["probe:late@t0", "probe:late@t1", "probe:early@t2", "probe:early@t3"]].max() < 0.85
