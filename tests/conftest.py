"""Shared fixtures: tiny configs built in the test, never the network."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from preattentive import stimuli  # noqa: E402
from preattentive.stimuli import render  # noqa: E402
from preattentive.stimuli.base import Params, StimulusFamily, Trial, check_range  # noqa: E402

# --- a toy stimulus family, registered only for the duration of a test (datasets/CLI rooms tested alone)


@dataclass(frozen=True)
class ToyParams(Params):
    n_dots: int = 3  # dots drawn, count


class ToyFamily(StimulusFamily):
    """Toy: dots on grey; is there a red one? (label 1 = yes)."""

    id = "toy-dots-v1"
    citation = "none (test fixture)"
    ParamsType = ToyParams
    ladder = ({"n_dots": 2}, {"n_dots": 6})
    difficulty_keys = ("n_dots",)

    def _make(self, rng, label, p):
        check_range("n_dots", p.n_dots, 1, 50)
        img = render.blank(p.size, 128)
        pos = rng.uniform(4, p.size - 4, size=(p.n_dots, 2))
        for k, c in enumerate(pos):
            render.draw_disk(img, c, 2.5, (220, 40, 40) if (label and k == 0) else (40, 80, 220))
        return Trial(img, label, "Is there a red dot?", ("no", "yes"), ("blue dots", "a red dot"),
                     {"n_dots": p.n_dots}, {"dots": pos.round(2).tolist(), "mask": np.zeros((2, 3), bool)})


@pytest.fixture
def toy_family():
    stimuli.REGISTRY.register(ToyFamily.id, ToyFamily)
    try:
        yield ToyFamily.id
    finally:
        stimuli.REGISTRY._entries.pop(ToyFamily.id, None)
