"""Write a self-contained, offline browser experiment: one ``index.html`` (jsPsych, our plugin, every image inlined)
plus ``experiment.json``, the machine-readable design that ``human import`` and ``human simulate`` read.

The page makes no network request: jsPsych is vendored from the npm registry into the package
(``human/vendor``, see its ``fetch.sh``) and inlined, images are ``data:`` URIs, and a Content-Security-Policy meta
tag forbids every other source, so even a stray request would be refused by the browser. The one exception is
the optional ``post_url`` (the results are POSTed there at the end), whose origin the policy allows.

Example
-------
>>> out = export_experiment("quick", "exp", n=2, conditions="50,unlimited", families=["maze"])  # doctest: +SKIP
>>> sorted(p.name for p in out.iterdir())  # doctest: +SKIP
['README.txt', 'experiment.json', 'index.html']
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from preattentive.evaluation.results import task_of
from preattentive.files import atomic_write_bytes, atomic_write_json
from preattentive.human.design import DesignError, Plan, TrialSpec, plan_experiment
from preattentive.human.masks import MASK_SEED_OFFSET, mask_pool

FORMAT = "preattentive-human/1"  # bump when the page's data fields or experiment.json change meaning
MASK_SOURCES = 4  # source trials per block that the masks of a task are cut from
VENDOR_JS = ("jspsych.min.js", "plugin-instructions.min.js", "plugin-html-keyboard-response.min.js",
             "plugin-survey-text.min.js", "plugin-fullscreen.min.js")


def png_bytes(image: np.ndarray) -> bytes:
    """Lossless PNG of a uint8 RGB image (OpenCV's encoder: the same pixels give the same bytes)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))  # OpenCV wants BGR
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as PNG")
    return buf.tobytes()


def image_id(png: bytes) -> str:
    return hashlib.sha1(png).hexdigest()[:16]


def _asset(*parts: str) -> str:
    return resources.files("preattentive.human").joinpath(*parts).read_text(encoding="utf-8")


def vendor_info() -> dict[str, Any]:
    """``vendor/VENDOR.json`` after checking every vendored file against its recorded sha256."""
    info = json.loads(_asset("vendor", "VENDOR.json"))
    for f in info["files"]:
        data = resources.files("preattentive.human").joinpath("vendor", f["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise RuntimeError(f"vendored {f['file']} does not match VENDOR.json's sha256; re-run vendor/fetch.sh")
    return info


def check_post_url(url: str | None) -> str | None:
    """``None`` or an ``http(s)://host/...`` URL (raise :class:`DesignError` otherwise)."""
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\"'<> "):
        raise DesignError(f"post URL {url!r}: expected an http:// or https:// URL such as https://lab.example/save")
    return url


def build_manifest(plan: Plan, *, title: str = "") -> tuple[dict[str, Any], dict[str, bytes]]:
    """The experiment's manifest (trials, lists, practice, design) and its images (id -> PNG bytes)."""
    from preattentive import __version__

    images: dict[str, bytes] = {}

    def add(img: np.ndarray) -> str:
        png = png_bytes(img)
        images.setdefault(image_id(png), png)
        return image_id(png)

    from preattentive import stimuli

    design = plan.design
    by_task: dict[str, list] = {}  # task (family + non-level parameters) -> its blocks, every level
    for b in plan.blocks:
        by_task.setdefault(task_of(b.family, b.params_json), []).append(b)
    masks: dict[str, list[str]] = {}  # task -> mask image ids
    for task, blocks in by_task.items():
        sources = []  # from every level: the mask shares features with easy and hard trials alike
        for b in blocks:
            gen = stimuli.make(b.family, seed=b.seed + MASK_SEED_OFFSET, **b.params)
            sources += [gen.trial(i).image for i in range(MASK_SOURCES)]
        seed = int(hashlib.sha1(f"{task}|{blocks[0].seed}".encode()).hexdigest()[:8], 16)
        masks[task] = [add(m) for m in mask_pool(design.mask, sources, design.mask_pool, seed)]
    gen_of = {id(b): b.generator() for b in plan.blocks}

    def spec(b, i: int) -> TrialSpec:
        t = gen_of[id(b)].trial(i)
        pool = masks[task_of(b.family, b.params_json)]
        key = b.trial_key(i)
        return TrialSpec(key=key, family=b.family, params=b.params_json, level=-1 if b.level is None else int(b.level),
                         seed=b.seed, index=i, trial_id=t.id, question=t.question, choices=tuple(t.choices),
                         label=int(t.label), difficulty=json.dumps(t.difficulty, sort_keys=True, default=str),
                         image=add(t.image), mask=pool[int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % len(pool)])

    trials = {s.key: s.to_dict() for b in plan.blocks for s in (spec(b, i) for i in range(b.n))}
    practice = [{**spec(b, i).to_dict(), "condition": c} for b, i, c in plan.practice]
    manifest: dict[str, Any] = {
        "format": FORMAT, "experiment_id": "", "title": title or "A brief look: what did you see?",
        "preattentive": __version__, "design": design.to_dict(),
        "suite": {"name": plan.suite.name, "seed": plan.suite.seed, "size": plan.suite.size},
        "conditions": [c.to_dict() for c in design.conditions],
        "trials": trials, "practice": practice,
        "lists": [[[k, c] for k, c in rows] for rows in plan.lists],
        "balance": plan.balance,
        "jspsych": {f["package"]: f["version"] for f in vendor_info()["files"]},
    }
    ident = json.dumps({k: v for k, v in manifest.items() if k not in ("experiment_id", "title")}, sort_keys=True)
    manifest["experiment_id"] = hashlib.sha1((ident + "|" + ",".join(sorted(images))).encode()).hexdigest()[:12]
    return manifest, images


def render_page(manifest: dict[str, Any], images: dict[str, bytes], *, post_url: str | None = None) -> str:
    """The whole ``index.html``: vendored jsPsych, our plugin and the manifest with every image, inlined."""
    post_url = check_post_url(post_url)
    vendor = vendor_info()
    boot = {"manifest": manifest, "images": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(images.items())},
            "post_url": post_url}
    # JSON inside <script>: "</" would end the element; "<\/" is the same string to JSON.parse
    config = json.dumps(boot, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    connect = "'none'"
    if post_url:
        p = urlsplit(post_url)
        connect = f"{p.scheme}://{p.netloc}"
    csp = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
           f"font-src data:; media-src 'none'; connect-src {connect}; base-uri 'none'; form-action 'none'")

    def js(text: str) -> str:
        return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)

    values = {
        "CSP": csp, "TITLE": html.escape(manifest["title"]), "EXPERIMENT_ID": manifest["experiment_id"],
        "VERSION": html.escape(manifest["preattentive"]),
        "JSPSYCH_VERSION": next(f["version"] for f in vendor["files"] if f["package"] == "jspsych"),
        "JSPSYCH_CSS": re.sub(r"</(style)", r"<\\/\1", _asset("vendor", "jspsych.css"), flags=re.IGNORECASE),
        "CSS": _asset("web", "experiment.css"),
        "VENDOR_JS": "\n".join(f"<script>{js(_asset('vendor', f))}</script>" for f in VENDOR_JS),
        "CONFIG": config, "EXPERIMENT_JS": js(_asset("web", "experiment.js")),
        "LICENSE": html.escape(_asset("vendor", "LICENSE-jspsych.txt")).replace("--", "- -"),
    }
    # one pass: text inserted for one placeholder is never scanned for another
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], _asset("web", "index.html"))


README = """preattentive human experiment {id}

Open index.html in a browser (Chrome, Edge or Firefox; a desktop screen, full screen). Nothing is downloaded: the
page holds the whole experiment. URL parameters: ?participant=ID (else the page asks), &list=K (counterbalancing
list 0..{last}; default: from the participant ID), &fullscreen=0 (stay windowed).
At the end the participant downloads the responses (CSV or JSON){post}.
Read them back with:  preattentive human import FILES --out STUDY
Design, trials and lists: experiment.json.
"""


def export_experiment(suite: Any, out: str | os.PathLike, *, n: int | None = None,
                      conditions: Any = "50,100,unlimited", families: list[str] | None = None,
                      post_url: str | None = None, title: str = "", **options: Any) -> Path:
    """Write ``out/index.html``, ``out/experiment.json`` and ``out/README.txt``; return ``out``.

    Parameters
    ----------
    suite, n, conditions, families, options : as :func:`~preattentive.human.design.plan_experiment` (``mask``,
        ``mask_ms``, ``fixation_ms``, ``display_px``, ``practice``, ``break_every``, ``lists``, ``seed``).
    post_url : where the page POSTs the responses (JSON) at the end; ``None``: download only.
    title : the page title.

    The same arguments give the same bytes. Each file is written atomically (temp file + ``os.replace``).

    Example
    -------
    >>> export_experiment("quick", "runs/exp", n=4, conditions="50,unlimited", families=["maze"])  # doctest: +SKIP
    PosixPath('runs/exp')
    """
    post_url = check_post_url(post_url)
    plan = plan_experiment(suite, n=n, conditions=conditions, families=families, **options)
    manifest, images = build_manifest(plan, title=title)
    page = render_page(manifest, images, post_url=post_url)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DesignError(f"--out {str(out)!r} is a file; expected a directory")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    atomic_write_json(out / "experiment.json", manifest, indent=1, sort_keys=True)
    post = f", and the page sends them to {post_url}" if post_url else ""
    atomic_write_bytes(out / "README.txt", README.format(id=manifest["experiment_id"], last=len(plan.lists) - 1,
                                                    post=post).encode())
    return out


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """``experiment.json`` of an exported experiment (a directory or the file itself)."""
    p = Path(path)
    p = p / "experiment.json" if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"no experiment.json at {str(p)!r}: expected a directory written by 'human export'")
    try:
        m = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ValueError(f"{p}: format {m.get('format') if isinstance(m, dict) else None!r}; expected {FORMAT!r}")
    return m


__all__ = ["FORMAT", "build_manifest", "check_post_url", "export_experiment", "image_id", "load_manifest",
           "png_bytes", "render_page", "vendor_info"]
