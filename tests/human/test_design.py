"""The design: conditions parsed, conditions balanced per block, a Latin square across lists, seeded order,
practice trials that are never test trials; masks cut from the family's own images."""

import collections

import numpy as np
import pytest

from preattentive.human.design import DesignError, assign_conditions, parse_conditions, plan_experiment
from preattentive.human.masks import make_mask, mask_pool


def test_parse_conditions():
    c = parse_conditions("50, 100,unlimited")
    assert [(x.name, x.duration_ms) for x in c] == [("masked-50", 50.0), ("masked-100", 100.0), ("unlimited", None)]
    assert parse_conditions(["33.3"])[0].name == "masked-33.3"


@pytest.mark.parametrize("text,needle", [("", "comma-separated"), ("50,fast", "'fast'"), ("0", "out of range"),
                                         ("50,50", "twice"), ("20000", "out of range")])
def test_parse_conditions_errors(text, needle):
    with pytest.raises(DesignError, match=needle):
        parse_conditions(text)


def test_assign_conditions_ranks_by_label():
    # labels 0,1,0,1,0,1: ranks by (label, index) are 0,3,1,4,2,5 -> conditions (rank + 0) % 3
    assert assign_conditions([0, 1, 0, 1, 0, 1], 3, 0) == [0, 0, 1, 1, 2, 2]


def test_plan_balance_latin_square_and_order(toy_suite):
    plan = plan_experiment(toy_suite, n=6, conditions="50,100,unlimited", practice=4)
    assert len(plan.lists) == 3 and all(len(rows) == 12 for rows in plan.lists)  # 2 levels x 6 trials
    gen = {b.trial_key(i): (b, b.generator().trial(i).label) for b in plan.blocks for i in range(b.n)}
    for rows in plan.lists:
        assert sorted(k for k, _ in rows) == sorted(gen)  # every trial once per list
        cells = collections.Counter((gen[k][0].level, c, gen[k][1]) for k, c in rows)
        # per level and condition: 2 trials, one of each label
        assert set(cells.values()) == {1} and len(cells) == 2 * 3 * 2
    seen = collections.defaultdict(set)  # across the 3 lists every trial is seen in every condition
    for rows in plan.lists:
        for k, c in rows:
            seen[k].add(c)
    assert all(v == {"masked-50", "masked-100", "unlimited"} for v in seen.values())
    again = plan_experiment(toy_suite, n=6, conditions="50,100,unlimited", practice=4)
    assert again.lists == plan.lists
    other = plan_experiment(toy_suite, n=6, conditions="50,100,unlimited", practice=4, seed=1)
    assert sorted(other.lists[0]) == sorted(plan.lists[0]) and other.lists[0] != plan.lists[0]
    # practice: the easiest level, indices after the test range, longest viewing first
    assert [(b.level, i) for b, i, _ in plan.practice] == [(0, 6), (0, 7), (0, 8), (0, 9)]
    assert [c for _, _, c in plan.practice] == ["unlimited", "unlimited", "masked-100", "masked-50"]
    assert not {b.trial_key(i) for b, i, _ in plan.practice} & set(gen)


def test_plan_errors(toy_suite):
    with pytest.raises(DesignError, match="expected a multiple of 3"):
        plan_experiment(toy_suite, n=4, conditions="50,100,unlimited")
    with pytest.raises(DesignError, match="mask 'blur'"):
        plan_experiment(toy_suite, n=2, conditions="50,unlimited", mask="blur")
    with pytest.raises(DesignError, match="display_px=8"):
        plan_experiment(toy_suite, n=2, conditions="50,unlimited", display_px=8)


def _crops(src, t):
    """Every t x t crop of the sources under every rotation and mirror: what a pattern-mask tile may be."""
    out = set()
    for s in src:
        for y in range(s.shape[0] - t + 1):
            for x in range(s.shape[1] - t + 1):
                c = s[y:y + t, x:x + t]
                for k in range(4):
                    r = np.rot90(c, k)
                    out.add(r.tobytes())
                    out.add(r[:, ::-1].tobytes())
    return out


def test_pattern_mask_is_tiles_of_the_sources():
    rng = np.random.default_rng(0)
    src = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(2)]
    m = make_mask("pattern", src, np.random.default_rng(5))
    allowed = _crops(src, 2)
    tiles = [m[y:y + 2, x:x + 2].tobytes() for y in range(0, 16, 2) for x in range(0, 16, 2)]
    assert all(t in allowed for t in tiles)  # independent check: each tile is a (rotated) crop of a source
    assert not any((m == s).all() for s in src)  # and the layout is not a source image's
    noise = make_mask("noise", src, np.random.default_rng(5))
    colours = {tuple(p) for s in src for p in s.reshape(-1, 3)}
    assert {tuple(p) for p in noise.reshape(-1, 3)} <= colours
    a, b = mask_pool("pattern", src, 3, seed=9), mask_pool("pattern", src, 3, seed=9)
    assert all((x == y).all() for x, y in zip(a, b)) and not (a[0] == a[1]).all()
    with pytest.raises(ValueError, match="mask kind 'blur'"):
        make_mask("blur", src, rng)
