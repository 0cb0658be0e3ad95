"""Every registered family honours the shared contract: determinism, shapes, balance, metadata, ladders, errors."""

import json

import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli.base import ParamError, meta_from_json, meta_to_json

EXPECTED = {"figure-ground", "border-ownership", "curve-tracing", "maze", "maze-path", "counting", "visual-search",
            "hard-boundary", "scenes"}
FAMILIES = [f for f in stimuli.list() if not f.startswith("toy-")]


def test_the_nine_families_are_registered():
    # equality, not a subset: a family added or dropped must update this list (and the README's table)
    assert {n for n in stimuli.REGISTRY.names() if not n.startswith("toy-")} == EXPECTED


@pytest.mark.parametrize("fid", FAMILIES)
def test_deterministic_and_order_independent(fid):
    a = stimuli.make(fid, seed=11)
    b = stimuli.make(fid, seed=11)
    forward = [a.trial(i) for i in range(6)]
    backward = [b.trial(i) for i in reversed(range(6))][::-1]
    for x, y in zip(forward, backward):
        assert x.image.tobytes() == y.image.tobytes()
        assert (x.label, x.question, x.choices, x.prompts) == (y.label, y.question, y.choices, y.prompts)
        assert meta_to_json(x.meta) == meta_to_json(y.meta)
    other = stimuli.make(fid, seed=12)
    assert any(other.trial(i).image.tobytes() != forward[i].image.tobytes() for i in range(6))


@pytest.mark.parametrize("fid", FAMILIES)
@pytest.mark.parametrize("size", [32, 64, 128])
def test_record_contract(fid, size):
    cls = stimuli.get(fid)
    gen = stimuli.make(fid, seed=1, size=size)
    assert cls.citation and cls.__doc__ and cls.ladder and cls.difficulty_keys
    for i in range(2 * gen.n_classes):
        t = gen.trial(i)
        assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
        assert t.image.std() > 0  # not a blank canvas
        assert 0 <= t.label < len(t.choices) == len(t.prompts) and t.answer == t.choices[t.label]
        assert t.question.strip() and all(p.strip() for p in t.prompts)
        assert len(set(t.choices)) == len(t.choices)
        assert set(cls.difficulty_keys) <= set(t.difficulty)
        json.dumps(t.difficulty)
        back = meta_from_json(meta_to_json(t.meta))
        assert set(back) == set(t.meta)
        assert t.id == f"{gen.id}/s1/{i:08d}"


@pytest.mark.parametrize("fid", FAMILIES)
def test_every_rung_and_mixed_levels(fid):
    cls = stimuli.get(fid)
    for level in range(len(cls.ladder)):
        gen = stimuli.make(fid, seed=2, level=level)
        t = gen.trial(level)
        for k, v in cls.ladder[level].items():
            assert getattr(gen.params, k) == v
        assert gen.level_for(level) == level and t.image.shape == (64, 64, 3)
    mixed = stimuli.make(fid, seed=2, mix_levels=True)
    seen = {mixed.level_for(i) for i in range(mixed.n_classes * len(cls.ladder))}
    assert seen == set(range(len(cls.ladder)))


@pytest.mark.parametrize("fid", [f for f in FAMILIES if not f.startswith("scenes")])
def test_labels_balanced_by_construction(fid):
    gen = stimuli.make(fid, seed=4)
    n = 4 * gen.n_classes
    counts = np.bincount([gen.trial(i).label for i in range(n)], minlength=gen.n_classes)
    assert counts.tolist() == [4] * gen.n_classes


@pytest.mark.parametrize("fid", FAMILIES)
def test_bad_params_are_one_line_errors(fid):
    for kwargs, needle in [({"size": 0}, "size=0"), ({"size": -8}, "size=-8"), ({"bogus": 1}, "'bogus'"),
                           ({"level": 99}, "level=99")]:
        with pytest.raises(ParamError, match=needle) as e:
            stimuli.make(fid, **kwargs)
        assert "\n" not in str(e.value)


def test_latest_lists_the_newest_version_of_each_family_once(toy_family):
    from tests.conftest import ToyFamily

    class ToyV2(ToyFamily):
        id = "toy-dots-v2"

    stimuli.REGISTRY.register(ToyV2.id, ToyV2)
    try:
        latest = stimuli.latest()
        assert "toy-dots-v2" in latest and "toy-dots-v1" not in latest
        assert {"toy-dots-v1", "toy-dots-v2"} <= set(stimuli.list())  # the old version stays available by id
        assert len(latest) == len(stimuli.REGISTRY.names()) == len({f.rsplit("-v", 1)[0] for f in latest})
        # "every family" in a suite is the newest versions only
        from preattentive.evaluation.suites import suite_from_dict

        blocks = suite_from_dict({"name": "s", "n": 2, "size": 32, "families": [{"family": "*"}]}).blocks()
        ids = {b.family for b in blocks}
        assert "toy-dots-v2" in ids and "toy-dots-v1" not in ids
    finally:
        stimuli.REGISTRY._entries.pop(ToyV2.id, None)
