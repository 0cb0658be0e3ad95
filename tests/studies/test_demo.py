"""The demo study end to end (quick preset) and its config handling."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.studies.demo import QUICK, DemoConfig


def test_quick_preset_applies_overrides():
    full, quick = DemoConfig.preset(), DemoConfig.preset(quick=True)
    for key, value in QUICK.items():
        assert getattr(quick, key) == value
    assert full != quick


def test_unknown_config_key_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nnot_a_key: 3\n")
    r = CliRunner().invoke(app, ["demo", "--quick", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "not_a_key" in r.output and "Traceback" not in r.output


def test_demo_quick_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert r.exit_code == 0, r.output
    notes = json.loads((out / "notes.json").read_text())
    # every built room ran: nothing failed (a failure would be a note naming errors.log)
    failed = [n["text"] for n in notes if "failed (" in n["text"]]
    assert not failed, failed
    # whatever was left out is said, both in notes.json (the report's format) and on the terminal
    for note in notes:
        assert set(note) == {"section", "text"}
        assert note["text"] in r.output
    assert json.loads((out / "config.json").read_text())["preview_cols"] == QUICK["preview_cols"]
    report = out / "report.html"
    assert report.is_file() and f"report: {report}" in r.output
    html = report.read_text()
    for note in notes:  # the notes are on the page too (escaped text, so compare a plain prefix)
        assert note["text"][:30].replace("&", "&amp;").replace("'", "&#x27;") in html
    summary = json.loads((out / "summary.json").read_text())
    from preattentive import stimuli

    # the quick curriculum: 4 steps on rung 0, then 6 on rung 1 from those weights, for both nets
    for net in summary["nets"]:
        assert net["stages"] == 2 and net["steps"] == 10, net
        first = json.loads((out / "runs" / f"{net['model']}-stage1" / "run.json").read_text())
        last = json.loads((out / "runs" / net["model"] / "run.json").read_text())
        assert first["config"]["params"] == {"level": 0} and first["steps"] == 4
        assert last["config"]["params"] == {"level": 1} and last["steps"] == 6
        assert last["config"]["init_from"] == str(out / "runs" / f"{net['model']}-stage1")
    # the study records what the nets were trained on, and the pair finding states it
    trained = json.loads((out / "study.json").read_text())["trained_on"]
    regime = "rungs 0, 1 only (a curriculum of 4 steps on rung 0 then 6 steps on rung 1)"
    assert trained == {"cnn-30k@figure-ground": regime, "blt-30k@figure-ground": regime}
    pair = [f for f in json.loads((out / "findings.json").read_text())["findings"] if f["kind"] == "ff-vs-recurrent"]
    assert len(pair) == 1 and f"both trained on {regime}" in pair[0]["text"] and "by rung (" in pair[0]["text"]

    # the physiology tables carry the RF control's columns, and the control holds on the trained models
    assert {r["model"] for r in summary["physiology"]["layers"]} >= {"cnn-30k@figure-ground", "blt-30k@figure-ground",
                                                                      "clip-hn"}
    assert summary["physiology"]["control_passed"] is True
    for name in ("bo_summary", "fg_summary"):
        table = pd.read_csv(out / "tables" / f"{name}.csv")
        assert {"rf_px", "n_units", "n_contained"} <= set(table.columns)
    bo = pd.read_parquet(out / "physiology" / "bo_summary.parquet")
    fg = pd.read_parquet(out / "physiology" / "fg_modulation.parquet")
    feedforward = {"cnn-30k@figure-ground", "clip-hn"}
    for t in (bo, fg):
        col = "mean_abs_bo" if "mean_abs_bo" in t else "modulation"
        ff = t[t.model.isin(feedforward) & (t.n_contained > 0)]
        assert len(ff) and (ff[col].abs() < 1e-6).all()
        step1 = t[(t.step == 1) & (t.n_contained > 0)]
        assert (step1[col].abs() < 1e-6).all()
    assert "Figure–ground modulation over time" in html and "Receptive fields and the identical-pixel control" in html
    assert "Layers with no contained units (not analysed)" in html and "self-attention" in html
