"""The built-in control on real models: a unit whose whole RF sees identical pixels cannot tell two images apart.

Feedforward models: every contained unit's BO index and figure-ground modulation is exactly 0 (|x| < 1e-6).
Recurrent models: the same at step 1; later steps may differ (context arrives), but units whose RF *at that step*
still sees only identical pixels stay at 0. If any of this fails, a receptive-field rule is wrong.
"""

import numpy as np
import pytest
import torch

from preattentive import stimuli
from preattentive.models import make_net
from preattentive.physiology import (border_ownership, contained, control_failures, figure_ground_modulation,
                                     pair_differences, receptive_fields, record_clip, record_net)

FEEDFORWARD = ["cnn-30k", "cnn-100k", "vit-30k", "vlstm-30k", "cnn-100k-film", "recall-16-ff"]
RECURRENT = ["blt-30k", "blt-100k-film", "hgru-16", "rvit-30k", "recall-16"]
SLOW = ["cnn-1m", "vit-1m", "blt-100k", "hgru-16-s2", "recall-32"]


def _trials(size, n_pairs=12, seed=11):
    bo = stimuli.make("border-ownership", size=size, seed=seed, mix_levels=True).generate(2 * n_pairs).trials
    fg = stimuli.make("figure-ground", size=size, seed=seed).generate(2 * n_pairs).trials
    return bo, fg


def _analyse(record, bo_trials, fg_trials):
    bo = border_ownership(record([t.image for t in bo_trials]), trials=bo_trials, n_permutations=20, min_pairs=2)
    fg = figure_ground_modulation(record([t.image for t in fg_trials]), trials=fg_trials, n_permutations=20)
    return bo, fg


def _check(bo, fg, *, recurrent):
    assert control_failures(bo.summary, fg).empty
    c = bo.units[bo.units.control == "contained"]
    first = c if not recurrent else c[c.step == 1]
    f = fg[fg.n_contained > 0]
    f = f if not recurrent else f[f.step == 1]
    assert len(first) + len(f) > 0, "no contained unit at all: the control would test nothing"
    assert (first.bo_index.abs() < 1e-6).all() and not first.significant.any()
    assert (f.modulation.abs() < 1e-6).all()
    s = bo.summary[bo.summary.n_contained > 0]
    s = s if not recurrent else s[s.step == 1]
    assert (s.mean_abs_bo < 1e-6).all() and (s.p_population == 1.0).all()


def _run(nid, size):
    torch.manual_seed(0)
    net = make_net(nid, num_classes=2, image_size=size)
    bo_trials, fg_trials = _trials(size)
    bo, fg = _analyse(lambda ims: record_net(net, ims, model=nid), bo_trials, fg_trials)
    _check(bo, fg, recurrent=net.recurrent)
    return bo, fg


@pytest.mark.parametrize("nid", FEEDFORWARD + RECURRENT)
def test_contained_units_cannot_tell_identical_pixels_apart(nid):
    _run(nid, 32)


@pytest.mark.slow
@pytest.mark.parametrize("nid", SLOW + FEEDFORWARD + RECURRENT)
def test_contained_units_cannot_tell_identical_pixels_apart_at_64_px(nid):
    _run(nid, 64)


@pytest.mark.parametrize("size", [32, 64])
def test_clip_tower_control_with_and_without_the_processor_resize(size):
    """clip-micro's tower is 64 px: 32 px stimuli go through the processor's bicubic resize, 64 px ones do not."""
    from preattentive.models.clip import build_clip

    clip = build_clip("clip-micro", texts=["a red circle"], seed=0)
    bo_trials, fg_trials = _trials(size)
    bo, fg = _analyse(lambda ims: record_clip(clip, ims, model="clip"), bo_trials, fg_trials)
    _check(bo, fg, recurrent=False)
    s = bo.summary.set_index("layer")
    f = fg[fg.region == "centre"].set_index("layer")
    if size == 32:  # resized x2: 4 px of stimulus per patch, patch centres fall in the probe window
        assert s.loc["embeddings", "n_contained"] > 0
    else:  # 8 px patches tile 64 px with a boundary exactly on the probed edge: no patch looks at the edge
        assert s.loc["embeddings", "note"] == "no unit has its RF centre in the probe window"
    assert f.loc["embeddings", "n_contained"] > 0
    assert (s.drop(index="embeddings").n_contained == 0).all() and (f.drop(index="embeddings").n_contained == 0).all()
    assert s.drop(index="embeddings").note.str.contains("self-attention").all()


def test_recurrent_units_depart_only_after_step_1():
    """A random BLT-v2's contained layer-1 units are 0 at step 1 and (lateral + top-down context) differ at 2."""
    bo, fg = _run("blt-30k", 32)
    s = bo.summary.set_index(["layer", "step"])
    assert s.loc[("layer1", 1), "mean_abs_bo"] == 0.0
    assert s.loc[("layer1", 2), "mean_abs_bo"] > 1e-3 and s.loc[("layer1", 2), "rf_px"] > s.loc[("layer1", 1), "rf_px"]


@pytest.mark.parametrize("size", [32, 64])
def test_default_stimuli_contain_the_first_two_layers_of_the_demo_nets(size):
    """The families' defaults leave enough identical pixels for the RFs of cnn-30k's stem and stage1 and of
    blt-30k's layer1 and layer2 (3, 7, 3 and 8 px) at 32 and 64 px — from RF boxes and pixels alone."""
    bo_trials, fg_trials = _trials(size, n_pairs=8)
    for trials in (bo_trials, fg_trials):
        pairs = np.arange(len(trials)).reshape(-1, 2)
        differs = pair_differences([t.image for t in trials], pairs)
        for nid, layers in (("cnn-30k", ("stem", "stage1")), ("blt-30k", ("layer1", "layer2"))):
            net = make_net(nid, num_classes=2, image_size=size)
            rfs = receptive_fields(net, (size, size))
            for layer in layers:
                rf = rfs.maps[(layer, 1)]
                assert contained(rf.boxes(), differs).any(axis=(1, 2)).all(), (nid, layer, trials[0].family)
