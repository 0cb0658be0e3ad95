"""Dataset cards: every generated set directory reads as `datasets.load_dataset(DIR)` and carries a Hub card."""

import json

import pytest
import yaml

from preattentive.datasets import generate_set
from preattentive.datasets.card import card_features, size_category


def header(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_load_dataset_reads_the_directory_without_a_builder_name(tmp_path, toy_family):
    datasets = pytest.importorskip("datasets")
    cfg = generate_set(toy_family, 25, tmp_path / "set", seed=3, chunk_size=10, params={"size": 32})
    ds = datasets.load_dataset(str(tmp_path / "set"))  # no "parquet": the card's configs/data_files decide
    assert list(ds) == ["train"] and len(ds["train"]) == 25
    assert isinstance(ds["train"].features["image"], datasets.Image)
    explicit = datasets.load_dataset("parquet", data_files=str(tmp_path / "set" / "data-*.parquet"))["train"]
    assert ds["train"].features == explicit.features  # the card's features agree with the shards' own
    assert ds["train"]["index"] == list(range(25)) and ds["train"][0]["image"].size == (32, 32)
    card = header(tmp_path / "set" / "README.md")
    assert card["dataset_info"]["features"] == card_features()
    assert sum(cfg["balance"]["counts"].values()) == 25


def test_card_has_the_hub_metadata_citation_config_and_seed(tmp_path, toy_family):
    hub = pytest.importorskip("huggingface_hub")
    generate_set(toy_family, 12, tmp_path, seed=7, chunk_size=5, params={"n_dots": "4"})
    card = hub.DatasetCard.load(tmp_path / "README.md")  # the Hub's own parser of dataset cards
    data = card.data.to_dict()
    assert data["license"] == "mit" and "visual-question-answering" in data["task_categories"]
    assert data["configs"] == [{"config_name": "default", "data_files": [{"split": "train",
                                                                        "path": "data-*.parquet"}]}]
    assert data["size_categories"] == ["n<1K"] and "preattentive" in data["tags"]
    assert "none (test fixture)" in card.text  # the family's citation
    cfg = json.loads((tmp_path / "config.json").read_text())
    resolved = json.loads(card.text.split("```json\n")[1].split("```")[0])
    assert resolved["seed"] == 7 and resolved["params"] == cfg["params"] and resolved["params"]["n_dots"] == 4


def test_same_set_same_card_and_partial_sets_say_so(tmp_path, toy_family):
    datasets = pytest.importorskip("datasets")
    for d in ("a", "b"):
        generate_set(toy_family, 30, tmp_path / d, seed=1, chunk_size=10, preview=False)
    assert (tmp_path / "a" / "README.md").read_bytes() == (tmp_path / "b" / "README.md").read_bytes()
    generate_set(toy_family, 30, tmp_path / "part", seed=1, chunk_size=10, shard=(0, 3), preview=False)
    assert "10 trials (partial: 1 of 3 shards present)" in (tmp_path / "part" / "README.md").read_text()
    assert len(datasets.load_dataset(str(tmp_path / "part"))["train"]) == 10
    for i in (1, 2):
        generate_set(toy_family, 30, tmp_path / "part", seed=1, chunk_size=10, shard=(i, 3), preview=False)
    assert (tmp_path / "part" / "README.md").read_bytes() == (tmp_path / "a" / "README.md").read_bytes()


def test_size_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 10_000, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
