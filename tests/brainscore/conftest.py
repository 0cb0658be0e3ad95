"""Fixtures for the Brain-Score wrapper: run directories of tiny random nets, colour stimuli on disk."""

import json

import numpy as np
import pytest


def make_run(directory, arch, *, num_classes=2, image_size=32, seed=0):
    """A `run:DIR` the harness loads: a freshly initialised net saved as a supervised run."""
    import torch

    from preattentive.models import make_net, save_net

    torch.manual_seed(seed)
    save_net(make_net(arch, num_classes=num_classes, image_size=image_size), directory / "model")
    (directory / "run.json").write_text(json.dumps({"kind": "supervised", "model_dir": "model", "task": {},
                                                    "config": {"size": image_size}}))
    return f"run:{directory}"


@pytest.fixture(scope="module")
def blt_run(tmp_path_factory):
    """A recurrent BLT net (Spoerer et al. 2017), random weights."""
    return make_run(tmp_path_factory.mktemp("blt"), "blt-30k")


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """A feedforward CNN, random weights."""
    return make_run(tmp_path_factory.mktemp("cnn"), "cnn-30k")


def colour_images(n, seed):
    """``n`` 48 px images, alternately red and blue backgrounds with grey noise blobs; labels 'red'/'blue'.
    Any visual representation separates them linearly: the readout's known-by-construction control."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        red = i % 2 == 0
        im = np.empty((48, 48, 3), np.uint8)
        im[:] = (200, 40, 40) if red else (40, 60, 200)
        for _ in range(4):  # distractor blobs at random places, so no two images are alike
            y, x = rng.integers(0, 40, 2)
            im[y:y + 8, x:x + 8] = rng.integers(60, 200)
        images.append(im)
        labels.append("red" if red else "blue")
    return images, labels


@pytest.fixture(scope="module")
def colour_files(tmp_path_factory):
    """PNG files of :func:`colour_images` (fitting set, seed 0; test set, seed 1) and their labels."""
    import cv2

    d = tmp_path_factory.mktemp("stimuli")
    out = {}
    for split, seed, n in (("fit", 0, 24), ("test", 1, 16)):
        images, labels = colour_images(n, seed)
        paths = []
        for i, im in enumerate(images):
            p = d / f"{split}-{i:03d}.png"
            cv2.imwrite(str(p), im[..., ::-1])
            paths.append(str(p))
        out[split] = (paths, labels)
    return out
