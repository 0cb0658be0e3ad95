"""Receptive-field rules, one per model kind: each retraces its model's forward pass on :class:`RFMap` s.

A rule reads kernel sizes, strides and paddings from the model's own modules (never from a copy of its config),
so it follows the model it is given; the gradient-support tests (tests/physiology/test_receptive_fields.py) check
every rule against the input gradients of sampled units. What each operation does to a unit's RF:

- convolutions, pooling: the kernel/stride/padding/dilation arithmetic of Araujo et al. 2019;
- residual sums, concatenated inputs (a recall net's image re-injection): the union of the branches;
- BatchNorm (recorded in eval mode), per-position LayerNorm / channel norm, FiLM (the query is the same in both
  trials of a pair), 1x1 convs, gates and pointwise nonlinearities: nothing;
- GroupNorm over the spatial map (BLT-v1, hGRU): every position — its statistics mix the whole map;
- self-attention (ViT, recurrent ViT, CLIP) and the mLSTM's sequence scan: every position, within one sweep;
- recurrence: a lateral conv of the layer's own previous state grows the RF at every step; a top-down conv of the
  layer above (nearest-upsampled) brings in that layer's RF from the step after it was computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from preattentive.physiology.receptive_fields import RFMap, ReceptiveFields, register_rule

ATTENTION = "self-attention: every token sees the whole image within one sweep"
GROUP_NORM = "GroupNorm normalises over the whole spatial map: every unit depends on the whole image"
SCAN = "the mLSTM scans the whole token sequence: every token depends on (at least) every earlier one"

# PIL filter support at scale 1, in input px (PIL's Imaging.h filters), by PIL's resample code.
PIL_SUPPORT = {0: 0.5, 1: 3.0, 2: 1.0, 3: 2.0, 4: 0.5, 5: 1.0}  # nearest, lanczos, bilinear, bicubic, box, hamming


def conv(rf: RFMap, m: nn.Module) -> RFMap:
    """``rf`` through one ``nn.Conv2d`` (its kernel, stride, padding, dilation)."""
    k, s, p, d = m.kernel_size, m.stride, m.padding, m.dilation
    if isinstance(p, str) or len({k[0], k[1]}) > 1 or len({s[0], s[1]}) > 1 or len({p[0], p[1]}) > 1:
        raise ValueError(f"{type(m).__name__} kernel {k}, stride {s}, padding {p}: expected square, numeric")
    return rf.conv(k[0], s[0], p[0], d[0])


def norm(rf: RFMap, m: nn.Module) -> RFMap:
    """A normalisation layer: GroupNorm mixes the spatial map; per-position norms do not."""
    return rf.globalise() if isinstance(m, nn.GroupNorm) else rf


@register_rule("cnn")
def cnn(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """ResNet-style CNN: stem conv, basic blocks (conv1 -> conv2, plus the shortcut)."""
    h = conv(RFMap.image(*image_size), net.stem[0])
    maps = {("stem", 1): h}
    for i, stage in enumerate(net.stages):
        for block in stage:
            short = conv(h, block.short[0]) if isinstance(block.short, nn.Sequential) else h
            h = conv(conv(h, block.conv1), block.conv2).union(short)
        maps[(f"stage{i + 1}", 1)] = h
    return ReceptiveFields(maps, image_size)


def _tokens(net: Any, image_size: tuple[int, int], names: list[str], note: str, steps: int = 1) -> ReceptiveFields:
    e = conv(RFMap.image(*image_size), net.embed.proj)  # one patch per token
    maps = {("embed", t): e for t in range(1, steps + 1)}
    g = e.globalise()
    maps.update({(name, t): g for name in names for t in range(1, steps + 1)})
    return ReceptiveFields(maps, image_size, notes={name: note for name in names})


@register_rule("vit")
def vit(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """ViT: the patch for ``embed``, the whole image from the first block on (attention)."""
    return _tokens(net, image_size, [f"block{i + 1}" for i in range(len(net.blocks))], ATTENTION)


@register_rule("rvit")
def rvit(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """Recurrent ViT: ``embed`` at every step, ``tokens`` global from step 1 (one attention block per step)."""
    return _tokens(net, image_size, ["tokens"], ATTENTION, steps or net.default_steps)


@register_rule("vlstm")
def vlstm(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """Vision-LSTM: the patch for ``embed``; every mLSTM block scans the whole sequence (treated as global)."""
    return _tokens(net, image_size, [f"block{i + 1}" for i in range(len(net.blocks))], SCAN)


@register_rule("blt")
def blt(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """BLT: per step, bottom-up (after 2x2 max pooling from the layer below), lateral (own state at t-1) and
    top-down (upsampled layer above at t-1), then the layer's norm."""
    x = RFMap.image(*image_size)
    prev: list[RFMap] | None = None
    maps: dict[tuple[str, int], RFMap] = {}
    grouped = any(isinstance(m, nn.GroupNorm) for m in net.norms)
    for t in range(1, (steps or net.default_steps) + 1):
        cur: list[RFMap] = []
        for i, bu in enumerate(net.bottom_up):
            below = x if i == 0 else cur[-1].pool(2, 2, 0, ceil_mode=True)
            drive = conv(below, bu)
            if prev is not None and net.lateral is not None:
                drive = drive.union(conv(prev[i], net.lateral[i]))
            if prev is not None and net.top_down is not None and i + 1 < len(prev):
                drive = drive.union(conv(prev[i + 1].upsample_nearest(drive.shape), net.top_down[i]))
            cur.append(norm(drive, net.norms[i]))
            maps[(f"layer{i + 1}", t)] = cur[-1]
        prev = cur
    notes = {f"layer{i + 1}": GROUP_NORM for i in range(len(net.bottom_up))} if grouped else {}
    return ReceptiveFields(maps, image_size, notes=notes)


@register_rule("hgru")
def hgru(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """hGRU: the stem's drive X every step; H1 = f(X, H2[t-1], norm1(W * H2[t-1])), H2 = f(H2[t-1], H1,
    norm2(W * H1)); the state starts at zero (it depends on no pixel before step 1)."""
    cell = net.cell
    k = cell.w.shape[-1]
    x = conv(RFMap.image(*image_size), net.stem)
    h2 = RFMap.constant(x)
    maps: dict[tuple[str, int], RFMap] = {}
    for t in range(1, (steps or net.default_steps) + 1):
        c1 = norm(h2.conv(k, 1, k // 2), cell.norm1)
        h1 = x.union(h2, c1)
        c2 = norm(h1.conv(k, 1, k // 2), cell.norm2)
        h2 = h2.union(h1, c2)
        maps.update({("stem", t): x, ("inhibition", t): h1, ("hgru", t): h2})
    grouped = isinstance(cell.norm1, nn.GroupNorm) or isinstance(cell.norm2, nn.GroupNorm)
    return ReceptiveFields(maps, image_size, notes={"inhibition": GROUP_NORM, "hgru": GROUP_NORM} if grouped else {})


def _recall_step(h: RFMap, x: RFMap, recall: nn.Module, blocks: nn.Module) -> RFMap:
    h = conv(h, recall).union(conv(x, recall))  # the recall conv reads [state, image]
    for block in blocks:
        h = conv(conv(h, block.conv1), block.conv2).union(h)
    return h


def _head(h: RFMap, head: nn.Sequential) -> RFMap:
    for m in head:
        if isinstance(m, nn.Conv2d):
            h = conv(h, m)
    return h


@register_rule("recall")
def recall(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """Deep-Thinking recall net: projection, then per step the recall conv on [state, image] and the residual
    blocks; the per-pixel head on every step's state."""
    x = RFMap.image(*image_size)
    h = conv(x, net.project)
    maps: dict[tuple[str, int], RFMap] = {}
    for t in range(1, (steps or net.default_steps) + 1):
        h = _recall_step(h, x, net.recall, net.blocks)
        maps[("recall", t)] = h
        maps[("pixel_logits", t)] = _head(h, net.head)
    return ReceptiveFields(maps, image_size)


@register_rule("recall-ff")
def recall_ff(net: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """The recall net's untied control: the same chain with distinct weights, one step."""
    x = RFMap.image(*image_size)
    h = conv(x, net.project)
    maps: dict[tuple[str, int], RFMap] = {}
    for i, (rec, stage) in enumerate(zip(net.recalls, net.stages)):
        h = _recall_step(h, x, rec, stage)
        maps[(f"block{i + 1}", 1)] = h
    maps[("pixel_logits", 1)] = _head(h, net.head)
    return ReceptiveFields(maps, image_size)


def processor_input(rf: RFMap, image_processor: Any, tower_size: int | None = None) -> RFMap:
    """The pixels an HF image processor hands the model, as RFs over the stimulus: its resize (``size``:
    ``shortest_edge``, ConvNeXt's ``crop_pct`` rule, or ``height`` / ``width``; PIL filter supports) then its
    centre crop. A CLIP-style processor given a stimulus already at ``tower_size`` is skipped, as the adapters'
    fast path skips it (``vlm_common.fast_pixels``)."""
    h, w = rf.shape
    if tower_size is not None and (h, w) == (tower_size, tower_size):
        return rf
    size = dict(getattr(image_processor, "size", None) or {}) if getattr(image_processor, "do_resize", True) else {}
    crop = getattr(image_processor, "crop_size", None) if getattr(image_processor, "do_center_crop", True) else None
    crop_pct = getattr(image_processor, "crop_pct", None)
    short = size.get("shortest_edge")
    if short is not None and crop_pct is not None:  # ConvNeXt: below 384 px resize to short / crop_pct, crop short
        if short < 384:
            target = int(short / crop_pct)
            out = (target, int(target * w / h)) if h <= w else (int(target * h / w), target)
            crop = {"height": short, "width": short}
        else:
            out, crop = (short, short), None
    elif short is not None:  # HF's get_resize_output_image_size for a shortest_edge request
        out = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    elif "height" in size and "width" in size:
        out = (int(size["height"]), int(size["width"]))
    elif tower_size is not None:
        out = (tower_size, tower_size)
    else:
        out = (h, w)
    if out != (h, w):
        resample = getattr(image_processor, "resample", 3)
        code = int(getattr(resample, "value", resample))
        if code not in PIL_SUPPORT:
            raise ValueError(f"image processor resample={resample!r}: expected a PIL filter code 0-5")
        rf = rf.resample(out, PIL_SUPPORT[code])
    if crop:
        ch, cw = int(crop.get("height", out[0])), int(crop.get("width", out[1]))
        if (ch, cw) != out:
            if ch > out[0] or cw > out[1]:
                raise ValueError(f"centre crop {(ch, cw)} larger than the resized {out}: padding is not modelled")
            r0, c0 = (out[0] - ch) // 2, (out[1] - cw) // 2  # HF's center_crop offsets
            rf = RFMap(rf.rows.gather(np.arange(ch) + r0), rf.cols.gather(np.arange(cw) + c0), rf.mixed)
    return rf


@register_rule("Clip")
def clip(model: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """CLIP's vision tower (as recorded by ``record_clip``): the processor's resize, the patch embedding for
    ``embeddings``, the whole image from ``layers.0`` on (attention)."""
    vm = model.model.vision_model
    pixels = processor_input(RFMap.image(*image_size), model.processor.image_processor, model.image_size)
    e = conv(pixels, vm.embeddings.patch_embedding)
    names = model.layer_names
    g = e.globalise()
    maps = {(name, 1): (e if name == "embeddings" else g) for name in names}
    return ReceptiveFields(maps, image_size, notes={n: ATTENTION for n in names if n != "embeddings"})


# --------------------------------------------------------------------------------------------- HF backbones
WINDOWED = "Swin's shifted-window attention mixes whole windows from the first stage on (treated as global)"
CHANNEL_GLOBAL = "ConvNeXt-V2's global response normalisation pools every position (GRN)"


@register_rule("VisionBackbone")
def hf_vision(backbone: Any, image_size: tuple[int, int], steps: int | None) -> ReceptiveFields:
    """``hf-vision:`` backbones (``models.hf_vision.VisionBackbone``): the processor's resize and crop, then
    per architecture — ViT-style transformers (ViT, DeiT, DINOv2, ViT-MAE, BEiT ...): the patch for
    ``embeddings``, the whole image from ``layers.0`` on; ConvNeXt: the 4 x 4 patchify stem, then per stage the
    2 x 2 downsampling conv and each block's depthwise conv; ResNet: the stem conv and max pool, then every
    residual layer's convs with its shortcut; Swin: the patch for ``embeddings``, global afterwards. Other
    architectures get no rule: every unit counts as seeing the whole image."""
    model = backbone.model
    mt = str(backbone.config.model_type)
    x = processor_input(RFMap.image(*image_size), backbone.image_processor)
    names = backbone.layer_names
    if not backbone.hierarchical and hasattr(getattr(model, "embeddings", None), "patch_embeddings"):
        e = conv(x, model.embeddings.patch_embeddings.projection)
        g = e.globalise()
        return ReceptiveFields({(n, 1): e if n == "embeddings" else g for n in names}, image_size,
                               notes={n: ATTENTION for n in names if n != "embeddings"})
    if mt == "swin":  # patch merging halves the grid stage by stage: global maps on the measured grids
        e = conv(x, model.embeddings.patch_embeddings.projection)
        grids = backbone.geometry.grids
        return ReceptiveFields({(n, 1): e if n == "embeddings" else RFMap.whole(grids[n], image_size)
                                for n in names}, image_size, notes={n: WINDOWED for n in names if n != "embeddings"})
    maps: dict[tuple[str, int], RFMap] = {}
    notes: dict[str, str] = {}
    if mt in ("convnext", "convnextv2"):
        h = conv(x, model.embeddings.patch_embeddings)
        maps[("embeddings", 1)] = h
        for k, stage in enumerate(model.encoder.stages):
            for m in stage.downsampling_layer.modules() if isinstance(stage.downsampling_layer, nn.Module) else ():
                if isinstance(m, nn.Conv2d):
                    h = conv(h, m)
            for layer in stage.layers:
                h = conv(h, layer.dwconv).union(h)
                if hasattr(layer, "grn"):
                    h = h.globalise()
                    notes[f"stages.{k}"] = CHANNEL_GLOBAL
            maps[(f"stages.{k}", 1)] = h
        return ReceptiveFields(maps, image_size, notes=notes)
    if mt == "resnet":
        stem = model.embedder
        h = conv(x, stem.embedder.convolution)
        pool = stem.pooler
        h = h.pool(pool.kernel_size, pool.stride, pool.padding, ceil_mode=bool(pool.ceil_mode))
        maps[("embeddings", 1)] = h
        for k, stage in enumerate(model.encoder.stages):
            for layer in stage.layers:
                main = h
                for m in layer.layer.modules():
                    if isinstance(m, nn.Conv2d):
                        main = conv(main, m)
                short = layer.shortcut
                h = main.union(conv(h, short.convolution) if hasattr(short, "convolution") else h)
            maps[(f"stages.{k}", 1)] = h
        return ReceptiveFields(maps, image_size)
    return ReceptiveFields({}, image_size, known=False,
                           notes={"*": f"no receptive-field rule for {mt!r} backbones: every unit is treated as "
                                       "seeing the whole image"})
