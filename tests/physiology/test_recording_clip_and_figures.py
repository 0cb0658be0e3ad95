"""CLIP recording on a micro CLIP, table round trip, and the physiology figures."""

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from preattentive.physiology import (FG_COLUMNS, RFMap, Recording, ReceptiveFields, border_ownership,
                                     example_boxes, figure_ground_modulation, read_example, read_tables, record_clip,
                                     record_modules, write_example, write_tables)
from preattentive.report.physiology import control_status, sections
from preattentive.report.physiology_figures import (bo_fraction_figure, bo_histogram_figure, fg_timecourse_figure,
                                                    rf_boxes_figure)


def test_record_clip_gives_patch_grids_in_stimulus_pixels():
    from preattentive.models.clip import build_clip

    clip = build_clip("clip-micro", texts=["a red circle", "a blue square"], seed=0)
    ims = np.random.default_rng(0).integers(0, 255, (5, 24, 24, 3), dtype=np.uint8)
    rec = record_clip(clip, ims, layers=["layers.0", "layers.1"], batch_size=2, model="clip")
    assert rec.layers == ["layers.0", "layers.1"] and rec.steps("layers.1") == [1]
    vc = clip.model.config.vision_config
    g = vc.image_size // vc.patch_size
    assert rec[("layers.1", 1)].shape == (5, vc.hidden_size, g, g)  # patch tokens on their grid
    assert rec.image_size == (24, 24)
    direct = clip.features(list(ims[:1]), layers=["layers.1"]).maps["layers.1"].numpy()
    np.testing.assert_allclose(rec[("layers.1", 1)][:1], direct, rtol=1e-5, atol=1e-5)
    # the same units through forward hooks on the HF encoder layers (CLS token dropped by the reshape)
    vm = clip.model.vision_model
    hooked = record_modules(vm, ims, {"layers.1": vm.encoder.layers[1]}, image_size=(24, 24), batch_size=2,
                            forward=lambda batch: vm(pixel_values=clip.pixel_values(list(batch))))
    np.testing.assert_allclose(hooked[("layers.1", 1)], rec[("layers.1", 1)], rtol=1e-4, atol=1e-5)


def _toy_tables():
    """Pairs (2k, 2k+1) with identical pixels inside a figure square; units at 2 px RFs (local at step 1,
    global from step 2, where the figure trial's mean brightness leaks in)."""
    rng = np.random.default_rng(0)
    n = 12
    masks = np.zeros((n, 16, 16), bool)
    images = rng.integers(0, 100, (n, 16, 16, 3), dtype=np.uint8)
    for k in range(n // 2):
        r, c = rng.integers(0, 8, 2)
        images[2 * k + 1] = rng.integers(150, 256, (16, 16, 3), dtype=np.uint8)
        images[2 * k + 1, r:r + 8, c:c + 8] = images[2 * k, r:r + 8, c:c + 8]
        masks[2 * k + 1, r:r + 8, c:c + 8] = True
    pool = RFMap.image(16, 16).pool(2, 2)
    rfs = ReceptiveFields({("l1", t): pool if t == 1 else pool.globalise() for t in (1, 2, 3)}, (16, 16))

    def record(ims):
        local = ims[..., 0].astype(np.float32).reshape(n, 8, 2, 8, 2).mean((2, 4))[:, None] / 255  # (n, 1, 8, 8)
        glob = ims[..., 0].mean((1, 2)).astype(np.float32)[:, None, None, None] / 255
        maps = {("l1", t): np.concatenate([1 + local + glob * (t > 1)] * 2, axis=1) for t in (1, 2, 3)}
        return Recording(maps, (16, 16), model="toy", rfs=rfs)

    pairs = np.arange(n).reshape(n // 2, 2)
    fg = figure_ground_modulation(record(images), masks, pairs=pairs, images=images, edge_px=1.0, n_permutations=50)
    windows = np.tile([4, 4, 12, 12], (n, 1))
    same = images.copy()
    same[1::2, 4:12, 4:12] = same[0::2, 4:12, 4:12]  # BO pairs: identical in the window
    rec = record(same)
    bo = border_ownership(rec, windows, np.tile([0, 1], n // 2), pairs, images=same, n_permutations=99,
                          min_pairs=2)
    return fg, bo.units, bo.summary, example_boxes(rec, (8, 8), np.any(same[0] != same[1], -1)), same


def test_tables_round_trip(tmp_path):
    fg, units, summary, rf, images = _toy_tables()
    paths = write_tables(tmp_path, fg=fg, bo_units=units, bo_summary=summary, rf=rf)
    assert [p.name for p in paths] == ["fg_modulation.parquet", "bo_index.parquet", "bo_summary.parquet",
                                       "rf_boxes.parquet"]
    back = read_tables(tmp_path)
    pd.testing.assert_frame_equal(back["fg"], fg)
    assert list(back["fg"].columns) == FG_COLUMNS and len(back["bo_units"]) == len(units)
    write_example(tmp_path, images[0], images[1], [4, 4, 12, 12])
    ex = read_example(tmp_path)
    assert (ex["a"] == images[0]).all() and ex["window"].tolist() == [4, 4, 12, 12]
    with pytest.raises(ValueError, match="unknown physiology table"):
        write_tables(tmp_path, spikes=fg)


def test_figures_draw_contained_and_uncontrolled_lines():
    fg, units, summary, rf, images = _toy_tables()
    fig = fg_timecourse_figure(fg)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [f"l1 (2 px, {int(fg[fg.region == 'centre'].n_contained.max())} units)"]
    hist = bo_histogram_figure(units)
    assert "step 3" in hist.axes[0].get_title()
    frac = bo_fraction_figure(summary)
    labels = [t.get_text() for t in frac.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("l1 (2 px") and any("Zhou" in s for s in labels)
    boxes = rf_boxes_figure(images[0], images[1], rf, window=[4, 4, 12, 12])
    assert "l1: 2 px" in [t.get_text() for t in boxes.axes[0].get_legend().get_texts()][0]
    for f in (fig, hist, frac, boxes):
        f.savefig(__import__("io").BytesIO(), format="png")
    with pytest.raises(ValueError, match="empty"):
        fg_timecourse_figure(fg.iloc[:0])


def test_report_sections_say_which_layers_were_not_analysed(tmp_path):
    fg, units, summary, rf, images = _toy_tables()
    none = summary.assign(layer="l9", n_contained=0, note="no contained units: self-attention: every token sees")
    write_tables(tmp_path, fg=fg, bo_units=units, bo_summary=pd.concat([summary, none], ignore_index=True), rf=rf)
    write_example(tmp_path, images[0], images[1], [4, 4, 12, 12])
    secs = sections(tmp_path)
    assert [s.title for s in secs] == ["Receptive fields and the identical-pixel control",
                                       "Figure–ground modulation over time", "Border ownership"]
    notes = " ".join(secs[0].notes)
    assert "Built-in control passed" in notes and "l9 (2 px: self-attention)" in notes
    assert {t.name for s in secs for t in s.tables} >= {"bo_summary", "fg_summary", "rf_boxes"}
    broken = summary.assign(control_max_abs=0.5)
    ok, text = control_status({"bo_summary": broken})
    assert not ok and text.startswith("CONTROL FAILED")
