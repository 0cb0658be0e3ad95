"""The report: a self-contained page whose every embedded image decodes and whose text is escaped."""

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import Suite, evaluate, probe_sweep, write_results
from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.suites import SuiteEntry
from preattentive.report import FigureItem, Section, TableItem, render_page, write_report
from preattentive.report.figures import psychometric_figure

EVIL = '<script>alert("x")</script>'


class Redness(Adapter):
    kind, auto_method, methods = "clip", "zero-shot", ("zero-shot",)

    def zero_shot(self, images, prompts):
        return [np.array([0.2, 0.8]) if (im[..., 0] > 180).any() and (im[..., 1] < 100).any() else np.array([0.7, 0.3])
                for im in images]


class Stepped(Adapter):
    kind, auto_method, methods = "net", "supervised", ("probe",)

    def features(self, images, layer, step, queries):
        red = np.array([[float((im[..., 0] > 180).any() and (im[..., 1] < 100).any())] for im in images])
        noise = np.random.default_rng(step).normal(size=(len(images), 2))
        return np.concatenate([noise, red if step >= 1 else noise[:, :1]], axis=1)


@pytest.fixture
def study(tmp_path, toy_family):
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=10)
    good = evaluate(Redness(None, name="good"), suite, out=tmp_path, progress=False)
    coin = good.assign(model=f"coin {EVIL}", correct=(good["index"] % 2 == 0) | (good["level"] == 0))
    write_results(coin, tmp_path / "eval" / "coin__zero-shot.parquet")
    gen = good.assign(model="talker", method="generative", prediction=-1, correct=False, parse="unparseable",
                      raw=EVIL)
    write_results(gen, tmp_path / "eval" / "talker__generative.parquet")
    probe_sweep(Stepped(None, name="net"), suite, layers=["a", "b"], steps=[0, 1], out=tmp_path, progress=False,
                folds=2)
    (tmp_path / "notes.json").write_text(json.dumps([{"section": "physiology", "text": f"left out {EVIL}"},
                                                     {"section": "general", "text": "a & b"}]))
    (tmp_path / "study.json").write_text(json.dumps({"title": f"Toy {EVIL}", "command": "pytest"}))
    return tmp_path


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_is_self_contained_and_escaped(study):
    import matplotlib.image as mpimg

    path = write_report(study)
    page = path.read_text()
    imgs = _images(page)
    assert len(imgs) >= 4  # overview, stimulus examples, psychometric curves, probes
    for png in imgs:  # every embedded image decodes to pixels
        arr = mpimg.imread(io.BytesIO(png), format="png")
        assert arr.ndim == 3 and arr.shape[0] > 50 and arr.shape[1] > 50
    assert EVIL not in page and "&lt;script&gt;" in page and "a &amp; b" in page
    assert "<script" not in page.lower() and 'src="http' not in page  # nothing external, nothing executable
    for heading in ("At a glance", "Stimuli", "Psychometric curves", "Linear probes", "Paired comparisons",
                    "Generated answers"):
        assert f">{heading}</h2>" in page
    assert re.search(r"<h2>[^<]*[Pp]hysiology[^<]*</h2>", page)  # the physiology slot is always there
    assert "left out &lt;script&gt;" in page  # ... with its notes
    assert {"overview.png", "overview.svg", "psychometric.png", "stimuli-examples.png"} <= \
        {p.name for p in (study / "figures").iterdir()}
    acc = pd.read_csv(study / "tables" / "accuracy.csv")
    good = acc[acc["model"] == "good"]
    assert (good["accuracy"] == 1.0).all() and (good["n"] == 10).all()
    cmp = pd.read_csv(study / "tables" / "compare.csv")
    pairs = cmp[~cmp["method_a"].str.startswith("probe") & ~cmp["method_b"].str.startswith("probe")]
    assert len(pairs) == 3 and (pairs["n"] == 20).all()


def test_stimulus_pngs_from_other_rooms_are_embedded_as_is(study):
    import matplotlib

    (study / "stimuli").mkdir()
    fig = matplotlib.figure.Figure(figsize=(2, 1))
    fig.subplots().imshow(np.zeros((4, 8)))
    fig.savefig(study / "stimuli" / "toy-dots-v1.png")
    page = write_report(study, svg=False).read_text()
    raw = (study / "stimuli" / "toy-dots-v1.png").read_bytes()
    assert raw in _images(page) and not (study / "figures" / "overview.svg").exists()


def test_render_page_escapes_everything():
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1])
    sec = Section(EVIL, question=EVIL, text=EVIL, notes=[EVIL], figures=[FigureItem("f", fig, EVIL)],
                  tables=[TableItem("t", pd.DataFrame({EVIL: [EVIL, 1.5]}), EVIL)])
    page = render_page(EVIL, [sec], subtitle=EVIL, footer=EVIL)
    assert EVIL not in page and page.count("&lt;script&gt;") >= 9 and len(_images(page)) == 1


def test_psychometric_figure_needs_rows():
    with pytest.raises(ValueError, match="empty accuracy table"):
        psychometric_figure(pd.DataFrame())


def test_report_cli(study, tmp_path):
    r = CliRunner().invoke(app, ["report", str(study), "--no-svg"])
    assert r.exit_code == 0 and r.output.strip().endswith("report.html")
    r = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 2 and r.output.startswith("error: study directory")


def test_empty_study_still_reports(tmp_path):
    page = write_report(tmp_path).read_text()
    assert "No evaluation results" in page and re.search(r"<h2>[^<]*[Pp]hysiology[^<]*</h2>", page)


def test_precomputed_comparisons_are_shown(study):
    (study / "compare").mkdir()
    pd.DataFrame({"task": ["toy"], "gap": [0.25]}).to_parquet(study / "compare" / "ff-vs-rec.parquet")
    page = write_report(study, svg=False).read_text()
    assert "Precomputed comparison: ff-vs-rec." in page and "0.25" in page


def test_broken_physiology_tables_give_a_note_not_a_crash(study):
    (study / "physiology").mkdir()
    (study / "physiology" / "fg_modulation.parquet").write_bytes(b"not parquet")
    page = write_report(study, svg=False).read_text()
    assert re.search(r"<h2>[^<]*[Pp]hysiology[^<]*</h2>", page) and "Psychometric curves" in page
