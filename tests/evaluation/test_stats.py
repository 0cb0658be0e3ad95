"""Wilson intervals against published values, psychometric fits on synthetic data, McNemar on a known case."""

import numpy as np
import pytest

from preattentive.evaluation.stats import fit_psychometric, mcnemar, wilson_ci


@pytest.mark.parametrize("k,n,lo,hi", [
    # Newcombe 1998 (Stat Med 17:857), Table I, method 3 (Wilson score, no continuity correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
    (5, 10, 0.2366, 0.7634)])
def test_wilson_known_values(k, n, lo, hi):
    a, b = wilson_ci(k, n)
    assert float(a) == pytest.approx(lo, abs=1e-4) and float(b) == pytest.approx(hi, abs=1e-4)


def test_wilson_ci_matches_newcombes_example():
    lo, hi = wilson_ci(81, 263)  # Newcombe 1998 example values
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    assert float(wilson_ci(0, 10)[0]) == pytest.approx(0.0) and float(wilson_ci(10, 10)[1]) == pytest.approx(1.0)


def test_wilson_vectorised_and_empty():
    lo, hi = wilson_ci(np.array([0, 10, 0]), np.array([10, 10, 0]))
    assert lo[1] > 0.69 and hi[0] < 0.31 and (lo[2], hi[2]) == (0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_logistic_fit_recovers_threshold(seed):
    x = np.arange(9.0)
    p = 0.5 + 0.5 / (1 + np.exp((x - 3.0) / 0.8))  # 2AFC, threshold 3.0 levels
    k = np.random.default_rng(seed).binomial(2000, p)
    fit = fit_psychometric(x, k, np.full(9, 2000), chance=0.5)
    assert fit.success and fit.threshold == pytest.approx(3.0, abs=0.2) and fit.beta == pytest.approx(0.8, abs=0.15)
    assert fit.predict(3.0) == pytest.approx(0.75, abs=0.03)


def test_wilson_ci_matches_newcombes_example():
    lo, hi = wilson_ci(81, 263)  # Newcombe 1998 example values
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    assert float(wilson_ci(0, 10)[0]) == pytest.approx(0.0) and float(wilson_ci(10, 10)[1]) == pytest.approx(1.0)


def test_weibull_fit_with_free_lapse():
    x = np.arange(9.0)
    p = 0.25 + (1 - 0.25 - 0.05) * np.exp(-(x / 4.0) ** 2.5)  # 4AFC, 5 % lapses
    k = np.random.default_rng(3).binomial(3000, p)
    fit = fit_psychometric(x, k, np.full(9, 3000), chance=0.25, kind="weibull", lapse=None)
    assert fit.threshold == pytest.approx(4.0 * np.log(2) ** (1 / 2.5), abs=0.2)
    assert fit.lapse == pytest.approx(0.05, abs=0.02)


def test_wilson_ci_matches_newcombes_example():
    lo, hi = wilson_ci(81, 263)  # Newcombe 1998 example values
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    assert float(wilson_ci(0, 10)[0]) == pytest.approx(0.0) and float(wilson_ci(10, 10)[1]) == pytest.approx(1.0)


def test_fit_of_flat_data_is_not_a_success():
    assert not fit_psychometric([0, 1], [10, 10], [10, 10], chance=0.5).success  # no fall-off: no threshold


def test_wilson_ci_matches_newcombes_example():
    lo, hi = wilson_ci(81, 263)  # Newcombe 1998 example values
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    assert float(wilson_ci(0, 10)[0]) == pytest.approx(0.0) and float(wilson_ci(10, 10)[1]) == pytest.approx(1.0)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 2 difficulty levels"):
        fit_psychometric([0], [5], [10], chance=0.5)
    with pytest.raises(ValueError, match="x >= 0"):
        fit_psychometric([-1, 1], [5, 5], [10, 10], chance=0.5, kind="weibull")


def test_wilson_ci_matches_newcombes_example():
    lo, hi = wilson_ci(81, 263)  # Newcombe 1998 example values
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    assert float(wilson_ci(0, 10)[0]) == pytest.approx(0.0) and float(wilson_ci(10, 10)[1]) == pytest.approx(1.0)


def test_mcnemar_known_case():
    # 9 discordant pairs favour A, 1 favours B: exact two-sided p = 2 * (1 + 10) / 2**10
    a = [1] * 9 + [0] + [1] * 5 + [0] * 3
    b = [0] * 9 + [1] + [1] * 5 + [0] * 3
    r = mcnemar(a, b)
    assert (r.n, r.both, r.only_a, r.only_b, r.neither) == (18, 5, 9, 1, 3)
    assert r.p_value == pytest.approx(22 / 1024)
    chi = mcnemar(a, b, method="chi2")  # (|9 - 1| - 1)^2 / 10 = 4.9
    assert chi.statistic == pytest.approx(4.9) and chi.p_value == pytest.approx(0.02686, abs=1e-4)
    assert mcnemar([1, 0], [1, 0]).p_value == 1.0
