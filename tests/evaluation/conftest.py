"""Fixtures for the evaluation tests: a toy suite and stand-in models that count what they compute."""

import numpy as np
import pytest

from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.suites import Suite, SuiteEntry


def has_red(image: np.ndarray) -> bool:
    """Independent check of the toy family's answer: any strongly red pixel."""
    im = image.astype(int)
    return bool(((im[..., 0] > 180) & (im[..., 1] < 100)).any())


class RedDetector(Adapter):
    """A stand-in 'CLIP' that sees red perfectly and counts every image it is shown."""

    kind = "clip"
    auto_method = "zero-shot"
    methods = ("zero-shot", "generative", "probe")

    def __init__(self, name="stub:red"):
        super().__init__(None, name=name, fingerprint="f0")
        self.seen = 0

    def zero_shot(self, images, prompts):
        self.seen += len(images)
        return [np.array([0.1, 0.9]) if has_red(im) else np.array([0.8, 0.2]) for im in images]

    def generate(self, images, questions, max_new_tokens=16):
        self.seen += len(images)
        self.questions = list(questions)
        return ["Yes, there is." if has_red(im) else "(A)" for im in images]

    def features(self, images, layer, step, queries):
        self.seen += len(images)
        return np.stack([im.reshape(-1, 3).max(0).astype(float) for im in images])  # max R, G, B


@pytest.fixture
def toy_suite(toy_family):
    return Suite("toy", (SuiteEntry(toy_family, "all"),), seed=1, size=32, n=8)


class SteppedNet(Adapter):
    """A stand-in recurrent net: the red evidence reaches layer 'late' only from step 2 on (noise before)."""

    kind = "net"
    auto_method = "supervised"
    methods = ("supervised", "probe")

    def __init__(self, name="stub:stepped"):
        super().__init__(None, name=name, fingerprint="s0")

    def features(self, images, layer, step, queries):
        rng = np.random.default_rng(len(images) * 7 + (step or 0))
        noise = rng.normal(size=(len(images), 3))
        red = np.array([[float(has_red(im))] for im in images])
        informative = layer == "late" and step is not None and step >= 2
        return np.concatenate([noise, red if informative else rng.normal(size=red.shape)], axis=1)


@pytest.fixture(scope="session")
def hub_checkpoint(tmp_path_factory):
    """``hub_checkpoint(arch, **options)``: a tiny random-weight checkpoint in the hub layout of ``arch``
    (``preattentive.models.tiny_hub.save_tiny``), built once per session per (arch, options)."""
    from preattentive.models.tiny_hub import save_tiny

    made = {}

    def make(arch, **options):
        key = (arch, repr(sorted(options.items())))
        if key not in made:
            made[key] = save_tiny(arch, tmp_path_factory.mktemp(arch), **options)
        return made[key]

    return make
