"""The exported page in a real browser (headless Chromium): offline, frame-timed, answered by key press, downloaded,
imported and reported beside a model — and, with a post URL, POSTed to a local server."""

import http.server
import json
import threading
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import evaluate, read_results
from preattentive.human import export_experiment, load_manifest
from preattentive.report import write_report

runner = CliRunner()

# short phases keep the run to seconds: 100 ms fixation, 50 ms (3 frames at 60 Hz) stimulus, 50 ms mask
FAST = dict(n=2, conditions="50,unlimited", practice=1, break_every=3, fixation_ms=100, mask_ms=50)


def _labels(manifest):
    lab = {k: t["label"] for k, t in manifest["trials"].items()}
    lab.update({p["key"]: p["label"] for p in manifest["practice"]})
    return lab


def test_page_offline_timed_downloaded_imported_reported(tmp_path, toy_suite, browser, red_seer):
    exp = export_experiment(toy_suite, tmp_path / "exp", **FAST)
    m = load_manifest(exp)
    labels = _labels(m)

    def answer(key, serial):  # right on odd serial numbers, wrong on even ones: the import must see exactly that
        right = labels[key]
        return str((right if serial % 2 else 1 - right) + 1)  # keys "1" / "2" = choice 0 / 1

    url = (exp / "index.html").resolve().as_uri() + "?participant=p01&list=1&fullscreen=0"
    phases = browser.run(url, answer)
    for p in ("calibration", "instructions", "fixation", "stimulus", "mask", "response", "feedback", "begin",
              "break", "end"):
        assert p in phases, (p, phases)

    browser.driver.find_element("id", "pa-csv").click()
    browser.driver.find_element("id", "pa-json").click()
    files = browser.wait_for_files(2)
    assert [f.suffix for f in files] == [".csv", ".json"]
    assert files[0].name == f"preattentive-{m['experiment_id']}-p01.csv"

    # offline: the page itself, data: URIs (images, fonts) and the blob: downloads; nothing else was requested
    urls = [r["url"] for r in browser.collect_logs()]
    assert urls and urls[0].startswith("file://")
    assert all(u.split(":", 1)[0] in ("file", "data", "blob") for u in urls), [u[:80] for u in urls]
    refused = [e["message"] for e in browser.console if "Content Security Policy" in e["message"] or
               e["level"] == "SEVERE"]
    assert not refused, refused

    # the recorded durations: whole frames at the measured refresh (headless Chromium: 60 Hz)
    d = pd.read_csv(files[0], keep_default_na=False)
    test = d[d["phase"] == "test"]
    assert len(test) == len(m["lists"][1]) == 4 and set(test["list"]) == {1}
    assert list(test["trial_key"]) == [k for k, _ in m["lists"][1]]  # the exported order
    frame = float(test["frame_ms"].iloc[0])
    assert 15.0 < frame < 18.5
    masked = test[test["condition"] == "masked-50"]
    assert len(masked) == 2
    for r in masked.itertuples():
        assert int(r.planned_frames) == round(50 / frame) == 3
        stim = float(r.stim_ms)
        # either the stimulus was up for its 3 frames, or the page flagged the dropped frame
        on_time = abs(stim - 3 * frame) < frame / 2
        assert (int(r.stim_frames) == 3 and on_time) == (str(r.timing_ok).lower() == "true"), r
        assert abs(float(r.stim_offset_ms) - float(r.stim_onset_ms) - stim) < 0.01
        assert int(r.mask_frames) == round(50 / frame)
    unl = test[test["condition"] == "unlimited"]
    assert (unl["stim_ms"] == "").all() and (unl["planned_frames"] == "").all()
    assert (pd.to_numeric(test["rt_ms"]) > 0).all()
    assert set(test["response_source"]) == {"key"}

    # import (CSV and JSON give the same rows), then the report draws people and the model in the same panels
    study = tmp_path / "study"
    r = runner.invoke(app, ["human", "import", str(files[0]), "--out", str(study)])
    assert r.exit_code == 0, r.output
    csv_rows = read_results(study / "eval")
    r = runner.invoke(app, ["human", "import", str(files[1]), "--out", str(tmp_path / "study_json")])
    assert r.exit_code == 0, r.output
    json_rows = read_results(tmp_path / "study_json" / "eval")
    pd.testing.assert_frame_equal(csv_rows, json_rows)
    me = csv_rows[csv_rows["model"] == "human:p01"]
    assert len(me) == 4 - int((~masked["timing_ok"].astype(str).str.lower().eq("true")).sum())
    serial = {k: n + 2 for n, k in enumerate(test["trial_key"])}  # trial serials: practice 1, test 2..5
    for row in me.itertuples():
        assert row.correct == (serial[row.trial_key] % 2 == 1)
        assert json.loads(row.raw)["rt_ms"] > 0 and row.parse == "key"

    evaluate(red_seer, toy_suite, n=2, out=study, progress=False)
    write_report(study, svg=False)
    results = pd.read_csv(study / "tables" / "results.csv")
    tasks = results.groupby("task")["model"].apply(set)
    assert all({"human:p01", "human:pooled", "stub:red"} <= s for s in tasks), tasks
    cmp = pd.read_csv(study / "tables" / "compare.csv")
    assert ((cmp["model_a"] == "human:p01") & (cmp["model_b"] == "stub:red")).any() or \
        ((cmp["model_b"] == "human:p01") & (cmp["model_a"] == "stub:red")).any()


class _Sink(http.server.BaseHTTPRequestHandler):
    bodies: list = []

    def _cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")

    def do_OPTIONS(self):  # noqa: N802 - the CORS preflight of a JSON POST
        self.send_response(204)
        self._cors()
        self.end_headers()

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length", 0))
        type(self).bodies.append(self.rfile.read(n))
        self.send_response(200)
        self._cors()
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sink():
    _Sink.bodies = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_page_posts_responses_to_the_export_url(tmp_path, toy_suite, browser, sink):
    post = f"http://127.0.0.1:{sink.server_address[1]}/save"
    exp = export_experiment(toy_suite, tmp_path / "exp", **{**FAST, "practice": 0, "break_every": 0},
                            post_url=post)
    browser.run((exp / "index.html").resolve().as_uri() + "?participant=p02&fullscreen=0", lambda k, s: "1")
    for _ in range(300):  # the POST (with up to 3 tries) finishes after the end screen appears
        if browser.state()["post"] not in ("", None):
            break
        time.sleep(0.02)
    assert browser.state()["post"] == "sent"
    assert len(_Sink.bodies) == 1
    rows = json.loads(_Sink.bodies[0])
    assert [r["participant"] for r in rows] == ["p02"] * 4 and {r["phase"] for r in rows} == {"test"}
    (tmp_path / "posted.json").write_bytes(_Sink.bodies[0])
    r = runner.invoke(app, ["human", "import", str(tmp_path / "posted.json"), "--out", str(tmp_path / "study")])
    assert r.exit_code == 0, r.output
    urls = [r["url"] for r in browser.collect_logs()]
    assert {u.split(":", 1)[0] for u in urls} <= {"file", "data", "http"}
    assert [u for u in urls if u.startswith("http")] == [post] * len([u for u in urls if u.startswith("http")])
