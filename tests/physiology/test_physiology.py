"""Physiology on hand-built toy models whose right answers are known."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from preattentive.physiology import (FG_COLUMNS, Recording, border_ownership, border_ownership_units,
                                     figure_ground_modulation, figure_ground_regions, in_window, record_modules,
                                     record_net, rf_pixels, tokens_to_map)
from preattentive.physiology.units import CENTRE, EDGE, GROUND, UNLABELLED

SIZE = 32


class ToyFigureNet(torch.nn.Module):
    """Image channel 0 carries the figure mask (1 on figure pixels); channel 1 carries noise.

    ``late`` units fire for figure pixels only from step 2 on (feedback-like), ``early`` units from step 1
    (feedforward-like), ``blind`` units see only the noise. Maps are 2x2-pooled (16 x 16 positions).
    """

    def forward(self, images, *, steps=None, query=None):
        steps = steps or 3
        fig = F.avg_pool2d(images[:, :1], 2)  # (B, 1, 16, 16)
        noise = F.avg_pool2d(images[:, 1:2], 2)
        states = tuple({"late": 1.0 + fig * float(t >= 2), "early": 1.0 + fig, "blind": 1.0 + 0.1 * noise}
                       for t in range(1, steps + 1))
        return SimpleNamespace(states=states)


def _figure_images(n, rng):
    masks = np.zeros((n, SIZE, SIZE), bool)
    for i in range(n):
        r, c = rng.integers(2, SIZE - 14, size=2)
        masks[i, r:r + 12, c:c + 12] = True
    x = torch.zeros(n, 3, SIZE, SIZE)
    x[:, 0] = torch.from_numpy(masks.astype(np.float32))
    x[:, 1] = torch.from_numpy(rng.random((n, SIZE, SIZE)).astype(np.float32))
    return x, masks


def test_figure_unit_modulates_only_from_step_2_unpaired():
    """Without pairs there is no partner with identical pixels: only the uncontrolled analysis runs."""
    x, masks = _figure_images(40, np.random.default_rng(0))
    rec = record_net(ToyFigureNet(), x, steps=4, model="toy")
    assert rec.layers == ["late", "early", "blind"] and rec.steps("late") == [1, 2, 3, 4]
    assert not rec.receptive_fields.known  # a toy without an RF rule: nothing can be contained
    fg = figure_ground_modulation(rec, masks)
    assert set(fg.region) == {"centre", "edge"} and (fg.n_contained == 0).all() and fg.modulation.isna().all()
    assert fg.note.str.contains("unpaired").all()
    mod = fg.set_index(["layer", "region", "step"])["modulation_uncontrolled"]
    assert mod["late", "centre", 1] == pytest.approx(0.0, abs=1e-9)
    assert mod["late", "edge", 1] == pytest.approx(0.0, abs=1e-9)
    for t in (2, 3, 4):
        # centre units see only figure pixels (response 2) vs ground (1): (2 - 1) / (2 + 1)
        assert mod["late", "centre", t] == pytest.approx(1 / 3, abs=1e-6)
        assert 0.0 < mod["late", "edge", t] < 1 / 3
    for t in (1, 2, 3, 4):
        assert mod["early", "centre", t] == pytest.approx(1 / 3, abs=1e-6)
        assert abs(mod["blind", "centre", t]) < 0.02 and abs(mod["blind", "edge", t]) < 0.02
    assert (fg.n_uncontrolled > 0).all() and (fg.n_units == 16 * 16).all()


class ToyContextNet(torch.nn.Module):
    """``local`` units: the 2x2 mean of channel 0 (their RF, 2 px); ``context`` units: the same plus, from step 2
    on, the image's mean brightness (context from everywhere, like feedback). :data:`TOY_RFS` are their RFs."""

    def forward(self, images, *, steps=None, query=None):
        local = F.avg_pool2d(images[:, :1], 2)  # (B, 1, 16, 16)
        glob = images[:, 0].mean(dim=(1, 2))[:, None, None, None]
        return SimpleNamespace(states=tuple({"local": 1.0 + local, "context": 1.0 + local + glob * float(t >= 2)}
                                            for t in range(1, (steps or 3) + 1)))


def _toy_rfs(steps):
    from preattentive.physiology import RFMap, ReceptiveFields

    local = RFMap.image(SIZE, SIZE).pool(2, 2)
    maps = {("local", t): local for t in range(1, steps + 1)}
    maps.update({("context", t): local if t == 1 else local.globalise() for t in range(1, steps + 1)})
    return ReceptiveFields(maps, (SIZE, SIZE))


def _lamme_pairs(k, rng):
    """Pairs (2j, 2j+1): a dark texture inside the figure in both; outside it, the homogeneous partner (2j)
    continues the dark texture while the figure trial (2j+1) has a bright ground (Lamme 1995's design)."""
    x = torch.zeros(2 * k, 3, SIZE, SIZE)
    masks = np.zeros((2 * k, SIZE, SIZE), bool)
    for j in range(k):
        r, c = rng.integers(2, SIZE - 18, size=2)
        dark = torch.from_numpy(rng.uniform(0.0, 0.4, (SIZE, SIZE)).astype(np.float32))
        bright = torch.from_numpy(rng.uniform(0.6, 1.0, (SIZE, SIZE)).astype(np.float32))
        x[2 * j, 0] = dark
        fig = bright.clone()
        fig[r:r + 16, c:c + 16] = dark[r:r + 16, c:c + 16]
        x[2 * j + 1, 0] = fig
        masks[2 * j + 1, r:r + 16, c:c + 16] = True
    images = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255, masks, images


def test_contained_units_modulate_only_through_context():
    """The control: RFs inside identical pixels give exactly 0 at step 1; only the unit that receives context
    from outside its RF departs from 0, from step 2 on; the uncontrolled analysis would see nothing different."""
    from preattentive.physiology import departure_step

    x, masks, images = _lamme_pairs(16, np.random.default_rng(3))
    rec = record_net(ToyContextNet(), x, steps=3, model="toy", rfs=_toy_rfs(3))
    fg = figure_ground_modulation(rec, masks, pairs=np.arange(32).reshape(16, 2), images=images, edge_px=2.0,
                                  n_permutations=200)
    c = fg[fg.region == "centre"].set_index(["layer", "step"])
    assert (c.n_contained > 0).all() and (c.rf_px.loc["local"] == 2).all()
    assert c.loc[("context", 1), "modulation"] == 0.0 and c.loc[("context", 1), "p_population"] == 1.0
    for t in (2, 3):
        assert c.loc[("context", t), "modulation"] > 0.05 and c.loc[("context", t), "p_population"] < 0.01
        assert c.loc[("context", t), "rf_px"] == SIZE and c.loc[("context", t), "n_control"] == 0
    for t in (1, 2, 3):
        assert c.loc[("local", t), "modulation"] == 0.0 and c.loc[("local", t), "control_max_abs"] == 0.0
    # responses normalised to each unit's peak: equal at step 1, figure above ground later
    assert c.loc[("context", 1), "response"] == pytest.approx(c.loc[("context", 1), "response_ground"])
    assert c.loc[("context", 3), "response"] > c.loc[("context", 3), "response_ground"]
    dep = departure_step(c.reset_index()).set_index("layer")["departure_step"]
    assert dep["context"] == 2 and np.isnan(dep["local"])
    # the same pairs scored per trial with only the RF-centre position (the pre-control analysis) pass
    # edge units that see the boundary, so their modulation needs no context:
    e = fg[fg.region == "edge"].set_index(["layer", "step"])
    assert e.loc[("local", 1), "modulation_uncontrolled"] != 0.0


def test_paired_design_compares_each_unit_with_its_partner_trial():
    """Lamme 1995 pairs: trial 2k homogeneous, 2k+1 with the figure; the same unit in both."""
    x, masks, images = _lamme_pairs(12, np.random.default_rng(1))
    rec = record_net(ToyContextNet(), x, steps=3, model="toy", rfs=_toy_rfs(3))
    pairs = np.arange(24).reshape(12, 2)
    fg = figure_ground_modulation(rec, masks, pairs=pairs, images=images, n_permutations=50)
    # trials whose meta carries pair ids are paired automatically
    trials = [SimpleNamespace(image=im, meta={"mask": m, "pair_id": i // 2})
              for i, (im, m) in enumerate(zip(images, masks))]
    auto = figure_ground_modulation(rec, trials=trials, n_permutations=50)
    pd.testing.assert_frame_equal(auto, fg)
    with pytest.raises(ValueError, match="needs the stimuli"):
        figure_ground_modulation(rec, masks, pairs=pairs)


def test_figure_ground_regions_and_rf_mapping():
    m = np.zeros((16, 16), bool)
    m[4:12, 4:12] = True
    lab = figure_ground_regions(m, edge_px=1.0)
    assert lab[8, 8] == CENTRE and lab[4, 8] == EDGE and lab[3, 8] == EDGE and lab[2, 8] == UNLABELLED
    assert lab[0, 0] == GROUND
    assert (figure_ground_regions(np.zeros((8, 8), bool)) == GROUND).all()
    rows, cols = rf_pixels((16, 16), (32, 32))
    assert rows[0] == 1 and rows[-1] == 31 and list(cols) == list(rows)
    win = in_window(np.array([[0, 0, 16, 32]]), (2, 2), (32, 32))
    assert win[0].tolist() == [[True, True], [False, False]]
    with pytest.raises(ValueError, match="masks"):
        figure_ground_modulation(Recording({("a", 1): np.zeros((2, 1, 4, 4))}, (32, 32)), np.zeros((3, 32, 32)))


def test_tokens_to_map_drops_cls_and_keeps_row_major_order():
    tok = torch.arange(2 * 17 * 3, dtype=torch.float32).reshape(2, 17, 3)
    m = tokens_to_map(tok)
    assert m.shape == (2, 3, 4, 4)
    assert torch.equal(m[:, :, 1, 2], tok[:, 1 + 1 * 4 + 2, :])


def test_record_modules_counts_repeated_calls_as_steps():
    class Rec(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            h = x
            for _ in range(3):
                h = torch.tanh(self.cell(h[:, :3] if h.shape[1] > 3 else h) )
                h = torch.cat([h, h[:, :2]], 1)[:, :3]
            return h

    net = Rec()
    imgs = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    rec = record_modules(net, imgs, {"cell": net.cell}, batch_size=2)
    assert rec.steps("cell") == [1, 2, 3] and rec[("cell", 2)].shape == (5, 4, 8, 8)
    assert rec.image_size == (8, 8)


# --------------------------------------------------------------------------------------------- border ownership
class ToyBONet(torch.nn.Module):
    """``owner`` units read context far outside the window (channel 0, left third of the image): they know the
    owner side. ``local`` units read only the pixel under their RF (identical within a pair) plus noise (ch 1)."""

    def forward(self, images, *, steps=None, query=None):
        context = images[:, 0, :, : SIZE // 3].mean(dim=(1, 2))[:, None, None, None]  # (B, 1, 1, 1)
        local = F.avg_pool2d(images[:, 0:1], 2)
        noise = F.avg_pool2d(images[:, 1:2], 2)
        owner = 1.0 + context + 0.05 * noise + 0 * local
        return SimpleNamespace(states=({"owner": owner, "local": 1.0 + local + 0.05 * noise},) * (steps or 2))


def _bo_pairs(k, rng):
    """Pairs (2j, 2j+1): identical pixels in the window (rows/cols 12..20), a square left vs right of its edge."""
    x = torch.zeros(2 * k, 3, SIZE, SIZE)
    for j in range(k):
        for side in (0, 1):
            img = x[2 * j + side]
            if side == 0:
                img[0, 6:26, 2:16] = 1.0  # owner on the left: the square spans cols 2..15
            else:
                img[0, 6:26, 16:30] = 0.0
                img[0, :, :16] = 1.0  # owner on the right: the complement is lit on the left...
                img[0, 6:26, 2:16] = 1.0
                img[0, :6, :] = img[0, 26:, :] = 0.0
                img[0, 6:26, :2] = 0.0
                img[0, 6:26, 2:12] = 0.0  # ...but the window's pixels (cols 12..20) stay identical
            img[1] = torch.from_numpy(rng.random((SIZE, SIZE)).astype(np.float32))
    windows = np.tile([12, 12, 20, 20], (2 * k, 1))
    owners = np.tile([0, 1], k)
    pairs = np.arange(2 * k).reshape(k, 2)
    assert torch.equal(x[0::2, 0, 12:20, 12:20], x[1::2, 0, 12:20, 12:20])
    return x, windows, owners, pairs


def _images(x):
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def test_owner_wired_unit_is_bo_selective_and_local_unit_is_not_uncontrolled():
    """The index and the per-unit test on units whose RFs see the (per-trial) noise: uncontrolled rows only."""
    x, windows, owners, pairs = _bo_pairs(20, np.random.default_rng(1))
    rec = record_net(ToyBONet(), x, steps=2, model="toy")
    bo = border_ownership(rec, windows, owners, pairs, images=_images(x), n_permutations=999, seed=0)
    units = bo.units
    assert set(units.control) == {"uncontrolled"} and set(units.layer) == {"owner", "local"}
    assert (units.n_pairs == 20).all() and len(units[units.layer == "owner"]) == 2 * 4 * 4  # 2 steps x 16 RFs
    summary = bo.summary.set_index(["layer", "step"])
    assert (summary.n_contained == 0).all() and summary.note.str.startswith("no contained units").all()
    assert summary.loc[("owner", 1), "fraction_significant_uncontrolled"] == 1.0
    assert (units.loc[units.layer == "owner", "bo_index"] > 0).all()  # prefers owner side 0 (left)
    assert summary.loc[("local", 1), "fraction_significant_uncontrolled"] <= 0.25
    assert units.loc[units.layer == "local", "bo_index"].abs().max() < 0.05
    # swapping which member is called side 0 flips the sign of every index
    flipped = border_ownership_units(rec, windows, 1 - owners, pairs, images=_images(x), n_permutations=99, seed=0)
    np.testing.assert_allclose(flipped.bo_index.to_numpy(), -units.bo_index.to_numpy())


class ToyBOContextNet(torch.nn.Module):
    """``local``: the 2x2 mean of channel 0; ``owner``: the same plus, from step 2 on, the left third's mean
    brightness (far outside the window: it knows the owner side only through context)."""

    def forward(self, images, *, steps=None, query=None):
        local = 1.0 + F.avg_pool2d(images[:, 0:1], 2)
        context = images[:, 0, :, : SIZE // 3].mean(dim=(1, 2))[:, None, None, None]
        return SimpleNamespace(states=tuple({"owner": local + context * float(t >= 2), "local": local}
                                            for t in range(1, (steps or 3) + 1)))


def test_contained_bo_units_are_exactly_zero_until_context_arrives():
    from preattentive.physiology import RFMap, ReceptiveFields, departure_step

    x, windows, owners, pairs = _bo_pairs(12, np.random.default_rng(2))
    x[:, 1] = 0.0  # no noise: the pairs' pixels agree in the window
    local = RFMap.image(SIZE, SIZE).pool(2, 2)
    rfs = ReceptiveFields({**{("local", t): local for t in (1, 2, 3)},
                           **{("owner", t): local if t == 1 else local.globalise() for t in (1, 2, 3)}}, (SIZE, SIZE))
    rec = record_net(ToyBOContextNet(), x, steps=3, model="toy", rfs=rfs)
    bo = border_ownership(rec, windows, owners, pairs, images=_images(x), n_permutations=200, seed=0, min_pairs=4)
    s = bo.summary.set_index(["layer", "step"])
    assert (s.n_contained == 16).all()  # 4 x 4 RFs of 2 px in the 8 px window, 1 channel
    assert s.loc[("owner", 1), "mean_abs_bo"] == 0.0 and s.loc[("owner", 1), "p_population"] == 1.0
    assert s.loc[("owner", 2), "fraction_significant"] == 1.0 and s.loc[("owner", 2), "p_population"] < 0.01
    assert (s.loc["local", "mean_abs_bo"] == 0.0).all() and (s.loc["local", "control_max_abs"] == 0.0).all()
    dep = departure_step(bo.summary).set_index("layer")["departure_step"]
    assert dep["owner"] == 2 and np.isnan(dep["local"])
    contained_units = bo.units[bo.units.control == "contained"]
    assert (contained_units.rf_px[contained_units.step == 1] == 2).all()


def test_a_wrong_receptive_field_is_caught_by_the_control():
    """If a rule claimed cnn-30k's deep layers had 1-px RFs, their "contained" units would see differing pixels
    and the control (exactly 0 for RFs inside identical pixels) must flag it."""
    from preattentive import stimuli
    from preattentive.models import make_net
    from preattentive.physiology import RFMap, ReceptiveFields, control_failures, receptive_fields

    torch.manual_seed(0)
    net = make_net("cnn-30k", num_classes=2, image_size=SIZE)
    trials = stimuli.make("border-ownership", size=SIZE, seed=3).generate(24).trials
    images = [t.image for t in trials]
    good = border_ownership(record_net(net, images, model="cnn"), trials=trials, n_permutations=20, min_pairs=2)
    assert control_failures(good.summary).empty
    assert (good.summary.loc[good.summary.n_contained > 0, "mean_abs_bo"] == 0.0).all()
    right = receptive_fields(net, (SIZE, SIZE))
    tiny = {k: (RFMap.image(SIZE, SIZE).conv(1, SIZE // m.shape[0]) if k[0] in ("stage2", "stage3") else m)
            for k, m in right.maps.items()}
    bad = border_ownership(record_net(net, images, model="cnn", rfs=ReceptiveFields(tiny, (SIZE, SIZE))),
                           trials=trials, n_permutations=20, min_pairs=2)
    failed = control_failures(bad.summary)
    assert set(failed.layer) <= {"stage2", "stage3"} and len(failed) >= 1
    assert (failed.control_max_abs > 1e-3).all()


def test_permutation_test_is_calibrated_without_selectivity():
    rng = np.random.default_rng(7)
    k, c, g = 30, 50, 8
    rec = Recording({("noise", 1): rng.gamma(2.0, 1.0, size=(2 * k, c, g, g)).astype(np.float32)}, (32, 32))
    bo = border_ownership(rec, np.tile([0, 0, 32, 32], (2 * k, 1)), np.tile([0, 1], k),
                          np.arange(2 * k).reshape(k, 2), images=rng.integers(0, 256, (2 * k, 32, 32, 3), np.uint8),
                          n_permutations=500, seed=3)
    frac = bo.summary["fraction_significant_uncontrolled"].item()
    assert len(bo.units) == c * g * g and bo.summary["n_contained"].item() == 0  # RFs unknown: none contained
    assert 0.03 < frac < 0.07, frac  # alpha = 0.05; 3200 units give a standard error of ~0.004


def test_bo_rejects_pairs_without_opposite_owners():
    rec = Recording({("a", 1): np.ones((4, 1, 4, 4), np.float32)}, (16, 16))
    with pytest.raises(ValueError, match="expected one 0 and one 1"):
        border_ownership_units(rec, np.tile([0, 0, 16, 16], (4, 1)), np.array([0, 0, 1, 1]),
                               np.array([[0, 1], [2, 3]]), images=np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="needs the stimuli"):
        border_ownership_units(rec, np.tile([0, 0, 16, 16], (4, 1)), np.array([0, 1, 0, 1]),
                               np.array([[0, 1], [2, 3]]))


def test_analyses_run_on_the_real_families_with_a_random_net():
    from preattentive import stimuli
    from preattentive.models import make_net
    from preattentive.physiology import pairs_from_meta, pairs_from_trials

    torch.manual_seed(0)
    net = make_net("cnn-30k", num_classes=2, image_size=32)
    fg_trials = stimuli.make("figure-ground", size=32, seed=5).generate(8).trials
    assert pairs_from_meta(fg_trials).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    fg = figure_ground_modulation(record_net(net, [t.image for t in fg_trials], model="cnn"), trials=fg_trials,
                                  n_permutations=20)
    assert set(fg.region) == {"centre", "edge"} and (fg.step == 1).all()
    assert list(fg.columns) == FG_COLUMNS
    # The stem is one 3x3 convolution: a contained centre unit sees the same pixels in both members of a pair,
    # so it cannot be modulated; only context could modulate it.
    stem = fg.set_index(["layer", "region"]).loc[("stem", "centre")]
    assert stem["n_contained"] > 0 and stem["modulation"] == 0.0 and stem["rf_px"] == 3
    bo_trials = stimuli.make("border-ownership", size=32, seed=5).generate(8).trials
    windows, owners, pairs = pairs_from_trials(bo_trials)
    assert sorted(owners[pairs[0]].tolist()) == [0, 1] and len(pairs) == 4
    units = border_ownership_units(record_net(net, [t.image for t in bo_trials]), trials=bo_trials,
                                   n_permutations=50, min_pairs=2)
    assert len(units) > 0 and units.p_value.between(0, 1).all()
    stem = units[(units.layer == "stem") & (units.control == "contained")]
    assert len(stem) > 0 and not stem.significant.any() and (stem.bo_index.abs() < 1e-6).all()
