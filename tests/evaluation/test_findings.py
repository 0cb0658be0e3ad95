"""The findings rules on synthetic result tables whose findings are known by construction."""

import json

import numpy as np
import pandas as pd
import pytest

from preattentive.evaluation.applicability import applicability, closed_vocabulary, unknown_words
from preattentive.evaluation.findings import (compute_findings, curve_status, paired_difference_ci,
                                              physiology_findings)
from preattentive.evaluation.results import COLUMNS


def rows(model, method, family, correct_by_level, *, chance=0.5, params="{}", seed=0):
    """Evaluation rows: ``correct_by_level[l]`` is the boolean vector of trial outcomes at level ``l``
    (trial i of a level is the same trial for every model, so models pair up)."""
    out = []
    for level, correct in enumerate(correct_by_level):
        for i, c in enumerate(correct):
            out.append({"model": model, "model_fingerprint": "x", "method": method, "options": "{}",
                        "family": family, "params": params, "level": level, "difficulty": "{}",
                        "trial_id": f"{family}/s{seed}/{level * 1000 + i}",
                        "trial_key": f"{family}/p/{level}/s{seed}/{i}", "seed": seed, "index": i, "question": "q",
                        "answer": "a", "label": 0, "n_choices": int(round(1 / chance)), "chance": chance,
                        "prediction": 0 if c else 1, "predicted": "a" if c else "b", "correct": bool(c), "raw": "",
                        "parse": "argmax", "score": 0.0, "rt": 0.0})
    df = pd.DataFrame(out)
    for c in COLUMNS:
        if c not in df:
            df[c] = pd.Series([None] * len(df), dtype="object") if COLUMNS[c][0] == "string" else 0
    return df[list(COLUMNS)].astype({c: t for c, (t, _) in COLUMNS.items()})


def bern(p, n, seed):
    rng = np.random.default_rng(seed)
    k = int(round(p * n))
    v = np.array([True] * k + [False] * (n - k))
    rng.shuffle(v)
    return v


def falling(n=200, seed=0):
    """A 2AFC logistic with threshold 2.0 over rungs 0..4 (known by construction)."""
    p = 0.5 + 0.5 / (1 + np.exp((np.arange(5) - 2.0) / 0.5))
    return [bern(pi, n, seed + i) for i, pi in enumerate(p)]


def test_known_threshold_is_found_and_stated_with_its_numbers():
    f = compute_findings(rows("m", "supervised", "task-v1", falling()))
    thr = [x for x in f.items if x.kind == "threshold"]
    assert len(thr) == 1 and thr[0].verdict == "threshold"
    assert thr[0].numbers["threshold"] == pytest.approx(2.0, abs=0.25)
    assert "falls halfway to chance at rung 2." in thr[0].text and "n = 200 per rung" in thr[0].text
    assert thr[0].panel == "psychometric-curves"


def test_no_fall_off_within_the_ladder():
    f = compute_findings(rows("m", "supervised", "t", [bern(p, 200, i) for i, p in enumerate([1, .98, .97, .95, .94])]))
    thr = [x for x in f.items if x.kind == "threshold"][0]
    assert thr.verdict == "no fall-off within the ladder" and "0.94 [" in thr.text


def test_chance_and_ceiling_curves_are_not_informative_and_not_summarised():
    ev = pd.concat([rows("chance", "zero-shot", "t", [bern(0.5, 40, i) for i in range(5)]),
                    rows("ceiling", "zero-shot", "t", [np.ones(40, bool)] * 5),
                    rows("good", "zero-shot", "t", falling(40))])
    f = compute_findings(ev)
    st = f.status.set_index("model")
    assert st.loc["chance", "reason"].startswith("at chance at every rung")
    assert st.loc["ceiling", "reason"].startswith("at ceiling at every rung")
    assert st.loc["good", "status"] == "informative"
    assert {x.model for x in f.items if x.kind == "threshold"} == {"good"}
    assert {x.model for x in f.items if x.kind == "informative"} == {"chance", "ceiling"}


def test_not_applicable_blocks_are_reported_as_such():
    f = compute_findings(rows("clip", "probe", "maze-v1", [bern(0.8, 60, 1), bern(0.7, 60, 2)]),
                         not_applicable=[{"model": "clip", "method": "zero-shot", "family": "maze-v1",
                                          "reason": "not applicable: prompt words unknown to the text encoder "
                                                    "('maze')"}])
    na = [x for x in f.items if x.kind == "informative"]
    assert na[0].verdict == "not applicable" and "'maze'" in na[0].text
    probe = [x for x in f.items if x.kind == "probe"][0]
    assert probe.verdict == "probe only: present" and "carries the family" in probe.text


def test_known_significant_difference_and_known_null():
    n = 300
    ff = [bern(0.65, n, 10 + i) for i in range(3)]
    better = [c | bern(0.35, n, 20 + i) for i, c in enumerate(ff)]  # the recurrent net adds correct answers
    same = [c.copy() for c in ff]  # identical answers: no difference at all
    ev = pd.concat([rows("ff@a", "supervised", "a", ff), rows("rec@a", "supervised", "a", better),
                    rows("ff@b", "supervised", "b", ff), rows("rec@b", "supervised", "b", same)])
    f = compute_findings(ev, pairs=[("ff@a", "rec@a"), ("ff@b", "rec@b")])
    pair = {x.task: x for x in f.items if x.kind == "ff-vs-recurrent"}
    assert pair["a"].verdict == "recurrent better" and pair["a"].numbers["p_value"] < 1e-6
    lo, hi = pair["a"].numbers["ci"]
    assert 0 < lo < pair["a"].numbers["difference"] < hi
    assert pair["b"].verdict == f"no detectable difference at n = {3 * n}" and pair["b"].numbers["p_value"] == 1.0
    para = {p["model"]: p for p in f.paragraphs}
    assert "a (recurrent better than ff@a)" in para["rec@a"]["text"]
    assert para["rec@a"]["recurrence"][0]["panel"] == "paired-comparisons"
    assert "Shows signatures of recurrence on: nothing." in para["rec@b"]["text"]
    json.dumps(f.to_dict())  # findings.json is plain JSON


def test_feedforward_better_is_reported_the_same_way():
    n = 300
    rec = [bern(0.65, n, 30 + i) for i in range(3)]
    ff = [c | bern(0.35, n, 40 + i) for i, c in enumerate(rec)]
    f = compute_findings(pd.concat([rows("ff", "supervised", "a", ff), rows("rec", "supervised", "a", rec)]),
                         pairs=[("ff", "rec")])
    assert [x.verdict for x in f.items if x.kind == "ff-vs-recurrent"] == ["feedforward better"]


def test_pair_finding_lists_accuracy_by_rung_and_the_training_regime():
    """Where the difference lies (rung by rung) and what the nets were trained on are stated in the sentence."""
    n = 100
    ff = [np.ones(n, bool), np.ones(n, bool), bern(0.97, n, 1), bern(0.5, n, 2)]
    rec = [np.ones(n, bool), np.ones(n, bool), bern(0.5, n, 3), bern(0.5, n, 4)]
    regime = "rungs 0, 1 only (a curriculum of 150 steps on rung 0 then 250 steps on rung 1)"
    f = compute_findings(pd.concat([rows("ff", "supervised", "a", ff), rows("rec", "supervised", "a", rec)]),
                         pairs=[("ff", "rec")], trained_on={"ff": regime, "rec": regime})
    pair = [x for x in f.items if x.kind == "ff-vs-recurrent"][0]
    assert pair.verdict == "feedforward better"
    assert [b["level"] for b in pair.numbers["by_level"]] == [0, 1, 2, 3]
    assert pair.numbers["by_level"][2] == {"level": 2, "feedforward": 0.97, "recurrent": 0.5}
    assert f"both trained on {regime}" in pair.text
    assert "by rung (ff / rec): 0: 1.00 / 1.00, 1: 1.00 / 1.00, 2: 0.97 / 0.50, 3: 0.50 / 0.50" in pair.text
    other = compute_findings(pd.concat([rows("ff", "supervised", "a", ff), rows("rec", "supervised", "a", rec)]),
                             pairs=[("ff", "rec")], trained_on={"ff": "every rung", "rec": "rung 0"})
    assert "ff trained on every rung, rec on rung 0" in [x for x in other.items if x.kind == "ff-vs-recurrent"][0].text
    one = compute_findings(pd.concat([rows("ff", "supervised", "a", ff), rows("rec", "supervised", "a", rec)]),
                           pairs=[("ff", "rec")], trained_on={"ff": "every rung"})
    assert "trained on" not in [x for x in one.items if x.kind == "ff-vs-recurrent"][0].text  # one regime: no "both"


def test_probe_vs_answer_information_present_but_not_used():
    ev = pd.concat([rows("clip", "zero-shot", "t", [bern(0.55, 100, 1), bern(0.5, 100, 2), bern(0.6, 100, 3)]),
                    rows("clip", "probe", "t", [bern(0.95, 100, 4), bern(0.9, 100, 5)])])
    probe = [x for x in compute_findings(ev).items if x.kind == "probe"][0]
    assert probe.verdict == "information present but not used"
    assert probe.numbers["own"] == pytest.approx(0.525)  # the same rungs (0 and 1) only


def test_paired_difference_ci_matches_the_formula():
    d, lo, hi = paired_difference_ci(10, 30, 200)
    se = np.sqrt((40 / 200 - 0.1 ** 2) / 200)
    assert d == pytest.approx(0.1) and hi - d == pytest.approx(1.959964 * se, rel=1e-5)


def test_physiology_departure_and_stays_at_zero():
    bo = pd.DataFrame({"model": ["rec"] * 3 + ["ff"], "layer": ["l1"] * 3 + ["l1"], "step": [1, 2, 3, 1],
                       "rf_px": [3, 10, 20, 3], "n_contained": [40, 40, 40, 40],
                       "fraction_significant": [0.0, 0.3, 0.4, 0.0], "p_population": [1.0, 0.001, 0.001, 1.0]})
    dep = pd.DataFrame({"analysis": "border-ownership", "model": ["rec", "ff"], "layer": "l1",
                        "departure_step": [2.0, np.nan]})
    f = {x.model: x for x in physiology_findings(bo, None, dep)}
    assert f["rec"].verdict == "departs at step 2" and "departs from 0 at step 2" in f["rec"].text
    assert f["ff"].verdict == "stays at 0" and "(one step)" in f["ff"].text
    paras = {p["model"]: p["text"] for p in compute_findings(pd.DataFrame(), physiology={
        "bo_summary": bo, "departure": dep}).paragraphs}
    assert "recurrence on: border-ownership (contained units depart from 0: l1 at step 2)" in paras["rec"]
    assert "border-ownership (contained units stay at 0, by construction)" in paras["ff"]


def test_unreadable_answers_are_not_informative_even_below_chance():
    ev = rows("llava", "generative", "t", [np.zeros(40, bool)] * 3)
    ev["prediction"] = -1  # nothing the parser could map to a choice
    st = compute_findings(ev).status
    assert st["status"].item() == "not informative" and st["reason"].item().startswith("answers unreadable")


def test_curve_status_needs_every_rung_at_chance():
    acc = pd.DataFrame({"model": "m", "method": "x", "family": "f", "task": "f", "level": [0, 1], "n": 100,
                        "k": [90, 50], "accuracy": [0.9, 0.5], "ci_lo": [0.83, 0.4], "ci_hi": [0.94, 0.6],
                        "chance": 0.5})
    assert curve_status(acc)["status"].item() == "informative"


def test_applicability_on_a_tokenizer_missing_a_prompt_word():
    from preattentive.models.tokenizer import build_tokenizer

    tok = build_tokenizer(["a red circle above a blue square"], append_eos=True)
    assert closed_vocabulary(tok)
    assert unknown_words(tok, ["a red circle", "two curves"]) == ["two", "curves"]
    ok, why = applicability(tok, ["a maze with a red circle"])
    assert not ok and why == "not applicable: prompt words unknown to the text encoder ('maze', 'with')"
    assert applicability(tok, ["A RED circle."]) == (True, "")  # case and punctuation as the tokenizer sees them
