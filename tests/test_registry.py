"""The generic registry: versioned ids, newest-version resolution, duplicates, deep-copied overrides."""

import pytest

from preattentive.registry import Registry, UnknownIdError


def test_make_resolves_newest_version_and_copies_overrides():
    r = Registry("thing", factory=lambda spec, **kw: {**spec, **kw})
    r.register("toy-v1", {"width": 8})
    r.register("toy-v2", {"width": 16})
    assert r.resolve("toy") == "toy-v2"
    assert r.make("toy-v1") == {"width": 8}
    extra = {"a": [1]}
    out = r.make("toy", extra=extra)
    out["extra"]["a"].append(2)
    assert extra == {"a": [1]}  # overrides are deep-copied
    assert r.list() == ["toy-v1", "toy-v2"] and r.names() == ["toy"]


def test_duplicates_unversioned_and_unknown_ids_are_errors():
    r = Registry("thing")
    r.register("toy-v1", 1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("toy-v1", 2)
    with pytest.raises(ValueError, match="version suffix"):
        r.register("toy", 3)
    with pytest.raises(UnknownIdError, match="expected one of: toy-v1"):
        r.make("nope")
    assert "toy" in r and "nope" not in r
