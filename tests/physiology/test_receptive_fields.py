"""Receptive-field rules checked against the models themselves: input-gradient support and pixel perturbations."""

import numpy as np
import pytest
import torch

from preattentive.models import make_net
from preattentive.physiology import RFMap, as_map, contained, receptive_fields, record_clip

SIZE = 32
# one preset per architecture the room records, plus the variants whose RFs differ (strides, norms, FiLM, depth)
NETS = ["cnn-30k", "cnn-1m", "cnn-100k-film", "vit-30k", "rvit-30k", "vlstm-30k", "blt-30k", "blt-30k-v1",
        "blt-100k-film", "hgru-16", "hgru-16-s2", "recall-16", "recall-16-ff"]


def _positions(h, w, rng):
    picks = {(0, 0), (h - 1, w - 1), (h // 2, w // 2), (0, w - 1)}
    picks |= {tuple(int(v) for v in rng.integers(0, (h, w))) for _ in range(2)}
    return sorted(picks)


def _support(fmap, x, ch, i, j):
    g = torch.autograd.grad(fmap[:, ch, i, j].sum(), x, retain_graph=True)[0]  # (B, 3, H, W)
    return (g.abs().sum(dim=(0, 1)) > 0).numpy()  # union over the batch's random images


@pytest.mark.parametrize("nid", NETS)
def test_rf_boxes_contain_the_input_gradient_support(nid):
    """Every sampled unit's gradient support lies inside its computed box; local boxes are tight (the support
    reaches every side of an interior unit's box); global ones are really global."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = make_net(nid, num_classes=2, image_size=SIZE).eval()
    x = torch.rand(3, 3, SIZE, SIZE, requires_grad=True)
    steps = min(net.default_steps, 3)
    q = torch.zeros(3, dtype=torch.long) if net.config.conditioning != "none" else None
    out = net(x, steps=steps, query=q)
    rfs = receptive_fields(net, (SIZE, SIZE), steps=len(out.states))
    assert rfs.known
    checked = tight = 0
    for t, state in enumerate(out.states, start=1):
        for layer, fmap in state.items():
            fmap = as_map(fmap)
            h, w = fmap.shape[-2:]
            rf = rfs.get(layer, t, (h, w))
            boxes = rf.boxes()
            widest = 0
            for i, j in _positions(h, w, rng):
                ch = int(rng.integers(0, fmap.shape[1]))
                sup = _support(fmap, x, ch, i, j)
                if not sup.any():
                    continue  # a dead unit on these inputs: nothing to check
                r0, c0, r1, c1 = boxes[i, j]
                outside = sup.copy()
                outside[r0:r1, c0:c1] = False
                assert not outside.any(), (f"{nid} {layer}@{t} unit ({ch},{i},{j}): gradient at "
                                           f"{np.argwhere(outside)[:3].tolist()} outside box {boxes[i, j].tolist()}")
                checked += 1
                rows, cols = np.nonzero(sup)
                if not rf.mixed and 0 < i < h - 1 and 0 < j < w - 1:
                    tight += [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1] == [r0, c0, r1, c1]
                widest = max(widest, rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
            if rf.mixed:  # attention / GroupNorm / scans: some unit's support reaches far beyond one patch
                assert widest > SIZE // 2, f"{nid} {layer}@{t}: claimed global, widest support {widest} px"
    assert checked >= 8
    local = [k for k, m in rfs.maps.items() if not m.mixed and min(m.shape) > 2]
    if local:
        assert tight >= 1, f"{nid}: no interior unit's support filled its box (the rule may be too large)"


def test_known_rf_sizes_of_the_demo_nets():
    """Araujo et al.'s arithmetic by hand: cnn-30k's stem 3, stage1 3+2+2, stage2 (stride 2) 7+2+4, stage3 13+4+8;
    blt-v2 layer2 = 2x2 max pool of 3 px (4 px, jump 2) + 3x3 conv at jump 2 (+4); lateral + top-down at step 2."""
    cnn = receptive_fields(make_net("cnn-30k", num_classes=2, image_size=32), (32, 32))
    assert [cnn.side_px(f, 1) for f in ("stem", "stage1", "stage2", "stage3")] == [3, 7, 13, 25]
    blt = receptive_fields(make_net("blt-30k", num_classes=2, image_size=32), (32, 32), steps=2)
    assert [blt.side_px(f"layer{k}", 1) for k in (1, 2, 3)] == [3, 8, 18]
    assert blt.side_px("layer1", 2) == 10  # top-down from layer2 (8 px) through nearest upsampling + 3x3
    v1 = receptive_fields(make_net("blt-30k-v1", num_classes=2, image_size=32), (32, 32))
    assert v1.maps[("layer1", 1)].covers_image and "GroupNorm" in v1.notes["layer1"]
    vit = receptive_fields(make_net("vit-30k", num_classes=2, image_size=32), (32, 32))
    assert vit.side_px("embed", 1) == 4 and vit.maps[("block1", 1)].covers_image
    assert "attention" in vit.notes["block1"]


def test_unknown_model_kind_is_treated_as_seeing_everything():
    rfs = receptive_fields(torch.nn.Conv2d(3, 4, 3), (16, 16))
    assert not rfs.known
    rf = rfs.get("anything", 1, (8, 8))
    assert rf.covers_image and (rf.boxes()[..., 2:] == 16).all()


def test_contained_uses_every_pixel_of_the_box():
    differs = np.zeros((2, 10, 10), bool)
    differs[0, 4, 4] = True  # pair 0 differs in one pixel; pair 1 nowhere
    rf = RFMap.image(10, 10).conv(3, padding=1)  # 3x3 boxes
    c = contained(rf.boxes(), differs)
    assert c.shape == (2, 10, 10)
    assert not c[0, 3:6, 3:6].any() and c[0].sum() == 100 - 9 and c[1].all()


def test_rf_map_operations_follow_pytorch_output_sizes():
    import torch.nn.functional as F

    rf = RFMap.image(15, 15)
    for k, s, p, ceil in ((3, 2, 1, False), (2, 2, 0, True), (5, 3, 2, False)):
        x = torch.zeros(1, 1, *rf.shape)
        y = F.max_pool2d(x, k, s, p, ceil_mode=ceil) if p <= k // 2 else None
        rf = rf.conv(k, s, p, ceil_mode=ceil)
        assert rf.shape == tuple(y.shape[-2:])
    up = RFMap.image(8, 8).conv(2, 2).upsample_nearest((7, 7))
    assert up.shape == (7, 7)


@pytest.mark.parametrize("stimulus", [64, 32, 48])
def test_clip_rfs_survive_the_processor_resize(stimulus):
    """The CLIP tower's processor resizes stimuli of other sizes (PIL bicubic): changing any pixel outside an
    embedding unit's box leaves it bit-identical; changing the pixel at the box centre changes it."""
    from preattentive.models.clip import build_clip

    clip = build_clip("clip-micro", texts=["a red circle"], seed=0)
    rng = np.random.default_rng(1)
    rfs = receptive_fields(clip, (stimulus, stimulus))
    assert rfs.maps[("layers.0", 1)].covers_image and rfs.notes["layers.0"].startswith("self-attention")
    g = clip.image_size // clip.model.config.vision_config.patch_size
    boxes = rfs.get("embeddings", 1, (g, g)).boxes()
    base = rng.integers(0, 256, (stimulus, stimulus, 3), dtype=np.uint8)
    for i, j in ((0, 0), (g // 2, g // 3), (g - 1, g - 1)):
        r0, c0, r1, c1 = boxes[i, j]
        other = rng.integers(0, 256, base.shape, dtype=np.uint8)
        other[r0:r1, c0:c1] = base[r0:r1, c0:c1]  # identical inside the box, random everywhere else
        poke = base.copy()
        poke[(r0 + r1) // 2, (c0 + c1) // 2] ^= 0x80
        rec = record_clip(clip, [base, other, poke], layers=["embeddings"])
        m = rec[("embeddings", 1)][:, :, i, j]
        np.testing.assert_array_equal(m[0], m[1])
        assert np.abs(m[0] - m[2]).max() > 0
    if stimulus == clip.image_size:  # no resize: the box is exactly the patch
        assert rfs.side_px("embeddings", 1) == clip.model.config.vision_config.patch_size


def test_clip_tower_gradient_support_at_its_own_size():
    from preattentive.models.clip import build_clip

    clip = build_clip("clip-micro", texts=["a red circle"], seed=0)
    S = clip.image_size
    rfs = receptive_fields(clip, (S, S))
    x = torch.rand(2, 3, S, S, requires_grad=True)
    out = clip.model.vision_model(pixel_values=x, output_hidden_states=True)
    for k, name in enumerate(clip.layer_names[:2]):
        fmap = as_map(out.hidden_states[k])
        rf = rfs.get(name, 1, fmap.shape[-2:])
        sup = _support(fmap, x, 0, 2, 3)
        r0, c0, r1, c1 = rf.boxes()[2, 3]
        outside = sup.copy()
        outside[r0:r1, c0:c1] = False
        assert not outside.any()
        assert rf.mixed == (name != "embeddings") and (sup.mean() > 0.9) == rf.mixed


# --------------------------------------------------------------------------------------------- HF backbones
HF_BACKBONES = ["vit", "dinov2", "dinov2_with_registers", "convnext", "resnet", "swin"]


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    from preattentive.models.hf_vision import load_vision
    from preattentive.models.tiny_hub import save_tiny

    root = tmp_path_factory.mktemp("hf-backbones")
    return {arch: load_vision(save_tiny(arch, root / arch)) for arch in HF_BACKBONES}


@pytest.mark.parametrize("arch", HF_BACKBONES)
def test_hf_backbone_rfs_contain_the_gradient_support(backbones, arch):
    """On the model's own input (no resize): every sampled unit's input-gradient support lies in its box."""
    vb = backbones[arch]
    S = vb.geometry.input_size[0]
    rfs = receptive_fields(vb, (S, S))
    if arch in ("dinov2", "dinov2_with_registers"):  # resize-and-crop processors: compare on the model input
        from preattentive.physiology.rf_rules import hf_vision

        class _NoResize:  # the same backbone fed pixel_values directly
            def __init__(self, inner):
                self.model, self.config, self.layer_names = inner.model, inner.config, inner.layer_names
                self.hierarchical = inner.hierarchical
                self.image_processor = type("P", (), {"do_resize": False, "do_center_crop": False})()
        rfs = hf_vision(_NoResize(vb), (S, S), None)
    assert rfs.known
    torch.manual_seed(0)
    x = torch.rand(2, 3, S, S, requires_grad=True)
    out = vb.model(pixel_values=x, output_hidden_states=True)
    states = list(getattr(out, "reshaped_hidden_states", None) or out.hidden_states)
    rng = np.random.default_rng(0)
    checked = 0
    for name, h in zip(vb.layer_names, states):
        if h.ndim == 3:
            p = int(vb.config.patch_size)
            g = S // p
            h = h[:, h.shape[1] - g * g:].transpose(1, 2).reshape(h.shape[0], -1, g, g)
        rf = rfs.get(name, 1, h.shape[-2:])
        boxes = rf.boxes()
        for i, j in _positions(*h.shape[-2:], rng):
            sup = _support(h, x, int(rng.integers(0, h.shape[1])), i, j)
            if not sup.any():
                continue
            r0, c0, r1, c1 = boxes[i, j]
            outside = sup.copy()
            outside[r0:r1, c0:c1] = False
            assert not outside.any(), f"{arch} {name} ({i},{j}): gradient outside {boxes[i, j].tolist()}"
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize("arch", HF_BACKBONES)
def test_hf_backbone_rfs_survive_the_processor(backbones, arch):
    """Through the real processor (resize, crop) on 48 px stimuli: pixels outside an embedding unit's box change
    nothing; the box centre's pixel changes it."""
    from preattentive.physiology import record_vision

    vb = backbones[arch]
    rng = np.random.default_rng(2)
    rfs = receptive_fields(vb, (48, 48))
    base = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    g = vb.geometry.grids["embeddings"]
    boxes = rfs.get("embeddings", 1, g).boxes()
    for i, j in ((g[0] // 2, g[1] // 2), (1, g[1] - 2)):
        r0, c0, r1, c1 = boxes[i, j]
        other = rng.integers(0, 256, base.shape, dtype=np.uint8)
        other[r0:r1, c0:c1] = base[r0:r1, c0:c1]
        poke = base.copy()
        poke[(r0 + r1) // 2, (c0 + c1) // 2] ^= 0x80
        m = record_vision(vb, [base, other, poke], layers=["embeddings"])[("embeddings", 1)][:, :, i, j]
        np.testing.assert_array_equal(m[0], m[1])
        assert np.abs(m[0] - m[2]).max() > 0


@pytest.mark.parametrize("arch", HF_BACKBONES)
def test_hf_backbone_control_is_exactly_zero(backbones, arch):
    from preattentive import stimuli
    from preattentive.physiology import border_ownership, control_failures, figure_ground_modulation, record_vision

    vb = backbones[arch]
    bo_t = stimuli.make("border-ownership", size=64, seed=4, figure_px=30, window_px=12).generate(16).trials
    fg_t = stimuli.make("figure-ground", size=64, seed=4, figure_px=38.0).generate(16).trials
    bo = border_ownership(record_vision(vb, [t.image for t in bo_t], model=arch), trials=bo_t, n_permutations=20,
                          min_pairs=2)
    fg = figure_ground_modulation(record_vision(vb, [t.image for t in fg_t], model=arch), trials=fg_t,
                                  n_permutations=20)
    assert control_failures(bo.summary, fg).empty
    c = bo.units[bo.units.control == "contained"]
    f = fg[fg.n_contained > 0]
    assert len(c) + len(f) > 0
    assert (c.bo_index.abs() < 1e-6).all() and (f.modulation.abs() < 1e-6).all()
