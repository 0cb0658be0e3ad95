"""Parquet sets: byte-identical determinism, shard and worker equality, atomicity, HF Image format, torch view."""

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from preattentive import stimuli
from preattentive.datasets import generate_set, iter_rows, read_set
from preattentive.datasets.parquet import SCHEMA, parse_shard
from preattentive.stimuli.base import ParamError


def digests(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())
            if p.name.startswith("data-") or p.name == "config.json"}


def test_same_command_gives_identical_bytes(tmp_path, toy_family):
    for d in ("a", "b"):
        generate_set(toy_family, 25, tmp_path / d, seed=3, chunk_size=10, preview=(d == "a"))
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert len(a) == 4 and a == b  # 3 chunks + config
    generate_set(toy_family, 25, tmp_path / "c", seed=4, chunk_size=10, preview=False)
    assert digests(tmp_path / "c")["data-00000-of-00003.parquet"] != a["data-00000-of-00003.parquet"]


def test_shards_and_workers_equal_one_process(tmp_path, toy_family):
    generate_set(toy_family, 45, tmp_path / "one", seed=1, chunk_size=10, preview=False)
    for i in range(3):
        cfg = generate_set(toy_family, 45, tmp_path / "sharded", seed=1, chunk_size=10, shard=(i, 3), preview=False)
    assert cfg["complete"]
    generate_set(toy_family, 45, tmp_path / "workers", seed=1, chunk_size=10, workers=2, preview=False)
    one = digests(tmp_path / "one")
    assert digests(tmp_path / "sharded") == one
    assert digests(tmp_path / "workers") == one


def test_rows_round_trip_to_trials(tmp_path, toy_family):
    gen = stimuli.make(toy_family, seed=7, mix_levels=True)
    cfg = generate_set(toy_family, 12, tmp_path, seed=7, params={"mix_levels": "true"}, chunk_size=5)
    assert cfg["balance"]["counts"] == {"0": 6, "1": 6} and cfg["n_classes"] == 2
    rows = list(iter_rows(tmp_path))
    assert [r["index"] for r in rows] == list(range(12))
    for r in rows:
        t = gen.trial(r["index"])
        np.testing.assert_array_equal(r["image"], t.image)
        assert (r["label"], r["answer"], r["question"]) == (t.label, t.answer, t.question)
        assert r["choices"] == list(t.choices) and r["prompts"] == list(t.prompts)
        assert r["level"] == gen.level_for(r["index"]) and r["difficulty"] == t.difficulty
        assert r["meta"]["dots"] == t.meta["dots"] and r["meta"]["mask"].dtype == bool
        assert r["id"] == t.id and r["family"] == toy_family and r["seed"] == 7
    assert (tmp_path / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_schema_is_hf_image_feature(tmp_path, toy_family):
    generate_set(toy_family, 4, tmp_path, preview=False)
    schema = pq.read_schema(next(tmp_path.glob("data-*.parquet")))
    assert schema.field("image").type == SCHEMA.field("image").type
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert features["image"] == {"_type": "Image"}
    assert set(features) == set(schema.names)


def test_load_dataset_reads_images(tmp_path, toy_family):
    datasets = pytest.importorskip("datasets")
    generate_set(toy_family, 6, tmp_path / "set", seed=2, preview=False)
    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "set"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    img = np.asarray(ds[3]["image"].convert("RGB"))
    np.testing.assert_array_equal(img, stimuli.make(toy_family, seed=2).trial(3).image)
    assert ds[3]["label"] == 1 and ds[3]["choices"] == ["no", "yes"]


def test_bad_inputs_leave_nothing_behind(tmp_path, toy_family):
    out = tmp_path / "out"
    with pytest.raises(ParamError, match="n=0"):
        generate_set(toy_family, 0, out)
    with pytest.raises(ParamError, match="size=-5"):
        generate_set(toy_family, 5, out, params={"size": -5})
    with pytest.raises(ParamError, match="n_dots=99"):
        generate_set(toy_family, 5, out, params={"n_dots": 99})
    with pytest.raises(ValueError, match="unknown stimulus family 'nope'"):
        generate_set("nope", 5, out)
    with pytest.raises(ParamError, match="unknown parameter 'colour'"):
        generate_set(toy_family, 5, out, params={"colour": "red"})
    assert not out.exists()
    generate_set(toy_family, 5, out, preview=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        generate_set(toy_family, 5, out, seed=9)
    generate_set(toy_family, 5, out, seed=9, overwrite=True, preview=False)
    assert read_set(out).column("seed").to_pylist() == [9] * 5
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("text,expected", [("0/1", (0, 1)), ("3/4", (3, 4))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "-1/2", "1/0", "a/b", "3"])
def test_parse_shard_rejects(text):
    with pytest.raises(ParamError, match="shard"):
        parse_shard(text)


def test_torch_view_matches_family_and_parquet(tmp_path, toy_family):
    torch = pytest.importorskip("torch")
    from preattentive.datasets import TrialDataset

    gen = stimuli.make(toy_family, seed=5)
    generate_set(toy_family, 8, tmp_path, seed=5, preview=False, chunk_size=3)
    live, disk = TrialDataset(gen, n=8), TrialDataset(tmp_path)
    assert len(live) == len(disk) == 8
    batch = torch.utils.data.default_collate([live[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 64, 64) and batch["image"].dtype == torch.float32
    assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    for i in range(8):
        a, b = live[i], disk[i]
        assert set(a) == {"image", "label", "query_id", "index", "level"}
        for k in a:
            assert torch.equal(a[k], b[k]), k
    with pytest.raises(ValueError, match="n=None"):
        TrialDataset(gen)


def test_preview_shades_the_dense_target_of_mask_families():
    from preattentive import stimuli
    from preattentive.datasets.preview import preview_grid

    fig = preview_grid(stimuli.make("maze-path", cells=5, cell_px=2, size=32), n_cols=2)
    panels = [ax for ax in fig.axes if ax.images]
    assert panels and all(len(ax.images) == 2 for ax in panels)  # the image, then the route mask over it
    route = panels[0].images[1].get_array()
    t = stimuli.make("maze-path", cells=5, cell_px=2, size=32).trial(0)
    marker = t.image.astype(int).std(axis=-1) > 30  # the green start and red goal stay visible
    assert marker.sum() > 0 and not (~route.mask & marker).any()
    assert (~route.mask).sum() == (t.meta["target_mask"] & ~marker).sum() > 0  # shaded exactly on the route
    assert "dense target" in fig._suptitle.get_text()
    plain = preview_grid(stimuli.make("maze", size=32), n_cols=2)
    assert all(len(ax.images) == 1 for ax in plain.axes if ax.images)
