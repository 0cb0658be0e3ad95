"""The exported page: self-contained (no remote reference, a CSP that refuses every other source), the same bytes
for the same arguments, the harness's trial keys, and images that are the generator's pixels."""

import base64
import json
import re

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.human import export_experiment, load_manifest
from preattentive.human.export import vendor_info

runner = CliRunner()


def _boot(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="preattentive-config">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_export_is_offline_deterministic_and_the_harness_trials(tmp_path, toy_suite):
    a = export_experiment(toy_suite, tmp_path / "a", n=2, conditions="50,unlimited", practice=2)
    b = export_experiment(toy_suite, tmp_path / "b", n=2, conditions="50,unlimited", practice=2)
    for f in ("index.html", "experiment.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    page = (a / "index.html").read_text()
    # nothing the browser would fetch: no remote src/href/url(), no source-map comment; a CSP that forbids it
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page, re.I)
    assert "sourceMappingURL" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "Joshua R. de Leeuw" in page and "The MIT License" in page  # the vendored code's licence travels with it
    assert vendor_info()["files"][0]["package"] == "jspsych"  # and each vendored file matches its recorded hash

    m = load_manifest(a)
    boot = _boot(page)
    assert boot["manifest"] == m and boot["post_url"] is None

    blocks = toy_suite.blocks(2)
    assert set(m["trials"]) == {blk.trial_key(i) for blk in blocks for i in range(2)}  # the harness's trial keys
    for key, t in m["trials"].items():
        blk = next(x for x in blocks if x.trial_key(t["index"]) == key)
        want = blk.generator().trial(t["index"])
        png = base64.b64decode(boot["images"][t["image"]])
        got = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert (got == want.image).all() and t["label"] == want.label and t["choices"] == list(want.choices)
        assert t["mask"] in boot["images"] and t["mask"] != t["image"]
    assert m["experiment_id"] in (a / "README.txt").read_text()


def test_export_post_url_opens_only_its_origin(tmp_path, toy_suite):
    out = export_experiment(toy_suite, tmp_path / "e", n=2, conditions="50,unlimited",
                            post_url="https://lab.example.org/save?study=3")
    page = (out / "index.html").read_text()
    assert "connect-src https://lab.example.org;" in page
    assert _boot(page)["post_url"] == "https://lab.example.org/save?study=3"
    plain = export_experiment(toy_suite, tmp_path / "p", n=2, conditions="50,unlimited")
    assert load_manifest(out)["experiment_id"] == load_manifest(plain)["experiment_id"]  # same design, same id


def test_export_cli(tmp_path, toy_suite_file):
    out = tmp_path / "exp"
    r = runner.invoke(app, ["human", "export", "--suite", str(toy_suite_file), "--n", "2", "--durations",
                            "50,unlimited", "--mask", "noise", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 trials, 2 list(s) of 4 trials, conditions masked-50, unlimited" in r.output
    assert load_manifest(out)["design"]["mask"] == "noise"


@pytest.mark.parametrize("args,needle", [
    (["--durations", "50,fast"], "duration 'fast'"),
    (["--n", "3"], "expected a multiple of 2"),
    (["--mask", "blur"], "mask 'blur'"),
    (["--post-url", "ftp://x/y"], "post URL 'ftp://x/y'"),
    (["--suite", "nosuch"], "unknown suite 'nosuch'"),
])
def test_export_cli_errors(tmp_path, toy_suite_file, args, needle):
    base = ["human", "export", "--suite", str(toy_suite_file), "--n", "2", "--durations", "50,unlimited"]
    r = runner.invoke(app, [*base, *args, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert not (tmp_path / "o").exists()
