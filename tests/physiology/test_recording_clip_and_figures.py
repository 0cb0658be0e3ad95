"""CLIP recording on a micro CLIP, table round trip, and the physiology figures."""

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from preattentive.physiology import (FG_COLUMNS, Recording, border_ownership_summary, border_ownership_units,
                                     figure_ground_modulation, read_tables, record_clip, record_modules,
                                     write_tables)
from preattentive.report.physiology import bo_fraction_figure, bo_histogram_figure, fg_timecourse_figure


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
    rng = np.random.default_rng(0)
    masks = np.zeros((12, 16, 16), bool)
    for i in range(12):
        r, c = rng.integers(0, 8, 2)
        masks[i, r:r + 8, c:c + 8] = True
    maps = {("l1", t): (1 + masks[:, None, ::2, ::2] * (t > 1)).astype(np.float32) + rng.random((12, 2, 8, 8))
            .astype(np.float32) * 0.1 for t in (1, 2, 3)}
    rec = Recording(maps, (16, 16), model="toy")
    fg = figure_ground_modulation(rec, masks)
    units = border_ownership_units(rec, np.tile([0, 0, 16, 16], (12, 1)), np.tile([0, 1], 6),
                                   np.arange(12).reshape(6, 2), n_permutations=99, min_pairs=2)
    return fg, units, border_ownership_summary(units)


def test_tables_round_trip(tmp_path):
    fg, units, summary = _toy_tables()
    paths = write_tables(tmp_path, fg=fg, bo_units=units, bo_summary=summary)
    assert [p.name for p in paths] == ["fg_modulation.parquet", "bo_index.parquet", "bo_summary.parquet"]
    back = read_tables(tmp_path)
    pd.testing.assert_frame_equal(back["fg"], fg)
    assert list(back["fg"].columns) == FG_COLUMNS and len(back["bo_units"]) == len(units)
    with pytest.raises(ValueError, match="unknown physiology table"):
        write_tables(tmp_path, spikes=fg)


def test_figures_draw_one_line_per_layer_and_region():
    fg, units, summary = _toy_tables()
    fig = fg_timecourse_figure(fg)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_legend().get_texts()) == 2  # l1 centre, l1 edge
    hist = bo_histogram_figure(units)
    assert "step 3" in hist.axes[0].get_title()
    frac = bo_fraction_figure(summary)
    labels = [t.get_text() for t in frac.axes[0].get_legend().get_texts()]
    assert "l1" in labels and any("Zhou" in s for s in labels)
    for f in (fig, hist, frac):
        f.savefig(__import__("io").BytesIO(), format="png")
    with pytest.raises(ValueError, match="empty"):
        fg_timecourse_figure(fg.iloc[:0])
