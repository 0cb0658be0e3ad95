"""Tiny CLIP / LLaVA fixtures: random weights, built in the test session, never the network."""

from __future__ import annotations

import numpy as np
import pytest

TINY_TEXTS = ["a red circle left of a blue square", "a green triangle above a red circle",
              "what color is the circle ?", "where is the red circle relative to the blue square ?",
              "how many red circles are there ?", "yes no one two left of above red green blue"]


@pytest.fixture(scope="session")
def tiny_texts():
    """Sentences whose words make the tiny models' vocabularies."""
    return list(TINY_TEXTS)


@pytest.fixture(scope="session")
def tiny_clip():
    """A ~70 k-parameter CLIP (64 px, patch 8, width 32, 2 + 2 layers) with a word tokenizer."""
    from preattentive.models.clip import build_clip

    return build_clip("clip-micro", texts=TINY_TEXTS, seed=0)


@pytest.fixture(scope="session")
def tiny_llava(tiny_clip):
    """A LLaVA (v1.5 MLP projector, 2-layer hidden-32 Llama) on the tiny CLIP tower."""
    from preattentive.models.llava import build_llava

    return build_llava("llava-micro", vision=tiny_clip, texts=TINY_TEXTS, seed=0)


@pytest.fixture
def tiny_images():
    """Four random uint8 (64, 64, 3) images."""
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(4)]


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
