"""Fixtures for the human-experiment tests: a toy suite, a stand-in observer, and a headless Chromium driver."""

import json
import shutil
import time

import numpy as np
import pytest

from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.suites import Suite, SuiteEntry


def has_red(image: np.ndarray) -> bool:
    """Independent check of the toy family's answer: any strongly red pixel."""
    im = image.astype(int)
    return bool(((im[..., 0] > 180) & (im[..., 1] < 100)).any())


class RedSeer(Adapter):
    """A stand-in 'CLIP' that sees red perfectly (the toy family's answer)."""

    kind, auto_method, methods = "clip", "zero-shot", ("zero-shot",)

    def __init__(self, name="stub:red"):
        super().__init__(None, name=name, fingerprint="r0")

    def zero_shot(self, images, prompts):
        return [np.array([0.1, 0.9]) if has_red(im) else np.array([0.9, 0.1]) for im in images]


class SlowSeer(Adapter):
    """A stand-in recurrent net: sees red only with >= 2 iterations; with fewer it always answers 'no'."""

    kind, auto_method, methods = "net", "supervised", ("supervised",)

    def __init__(self):
        super().__init__(None, name="stub:slow", fingerprint="s0")

    def classify(self, images, queries, steps=None):
        ok = steps is None or steps >= 2
        return np.array([[0.0, 1.0] if (ok and has_red(im)) else [1.0, 0.0] for im in images])


@pytest.fixture
def red_seer():
    return RedSeer()


@pytest.fixture
def slow_seer():
    return SlowSeer()


@pytest.fixture
def toy_suite(toy_family):
    """The toy family (2 levels) at 32 px: n trials per level are set by each test."""
    return Suite("toy", (SuiteEntry(toy_family, "all"),), seed=1, size=32, n=4)


@pytest.fixture
def toy_suite_file(tmp_path, toy_family):
    p = tmp_path / "toy.yaml"
    p.write_text(f"# toy suite\nname: toy\nseed: 1\nsize: 32\nn: 4\nfamilies:\n  - family: {toy_family}\n")
    return p


# --------------------------------------------------------------------------------------------- the browser
def chrome_or_skip():
    """(chromium binary, chromedriver) or a skip that says what is missing and how to install it."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("browser test skipped: selenium is not installed (pip install -e '.[dev]')")
    binary = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("browser test skipped: no chromium/chromedriver on PATH (apt-get install chromium "
                    "chromium-driver; .ci/run does this)")
    return binary, driver


class Browser:
    """Headless Chromium through selenium, logging every network request; downloads go to ``downloads``."""

    def __init__(self, binary, driver, downloads):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = binary
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1000,900", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=opts)
        self.downloads = downloads
        downloads.mkdir(parents=True, exist_ok=True)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                                    "downloadPath": str(downloads)})
        self.requests: list[dict] = []
        self.console: list[dict] = []

    def state(self):
        return self.driver.execute_script(
            "const s = window.preattentive; return s ? {phase: s.phase, item: s.item, serial: s.serial, "
            "open: s.open, post: s.post_status} : null")

    def key(self, k):
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(k).perform()

    def run(self, url, answer, timeout=90.0, on_phase=None):
        """Open ``url`` and play the experiment: pages forward, breaks by space, each trial's answer key from
        ``answer(item_key, serial)``; stop at the end screen. Returns the phases seen, in order."""
        from selenium.webdriver.common.keys import Keys

        self.driver.get(url)
        seen, answered, t0 = [], set(), time.monotonic()
        while time.monotonic() - t0 < timeout:
            s = self.state()
            if s is None:
                time.sleep(0.02)
                continue
            if not seen or seen[-1] != s["phase"]:
                seen.append(s["phase"])
                if on_phase:
                    on_phase(s["phase"], self)
            if s["phase"] == "end":
                return seen
            if s["phase"] == "instructions":
                self.key(Keys.ARROW_RIGHT)
                time.sleep(0.05)
            elif s["phase"] in ("begin", "break"):
                self.key(" ")
                time.sleep(0.05)
            elif s["phase"] == "response" and s["open"] and s["serial"] not in answered:
                answered.add(s["serial"])
                self.key(answer(s["item"], s["serial"]))
            time.sleep(0.01)
        raise AssertionError(f"the experiment did not reach its end screen in {timeout} s (phases: {seen})")

    def collect_logs(self):
        for e in self.driver.get_log("performance"):
            msg = json.loads(e["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"])
        self.console += self.driver.get_log("browser")
        return self.requests

    def wait_for_files(self, n, timeout=10.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            done = [p for p in self.downloads.iterdir() if not p.name.endswith(".crdownload")]
            if len(done) >= n:
                return sorted(done)
            time.sleep(0.05)
        raise AssertionError(f"expected {n} downloaded files in {timeout} s; got {list(self.downloads.iterdir())}")

    def quit(self):
        self.driver.quit()


@pytest.fixture
def browser(tmp_path):
    binary, driver = chrome_or_skip()
    b = Browser(binary, driver, tmp_path / "downloads")
    try:
        yield b
    finally:
        b.quit()
