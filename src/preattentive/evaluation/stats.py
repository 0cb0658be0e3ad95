"""Statistics a psychophysics paper needs: Wilson intervals, psychometric fits with thresholds, McNemar tests.

All functions take plain numbers/arrays (or the per-trial table of :mod:`preattentive.evaluation.results`) and
return named dataclasses or tidy DataFrames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats


def wilson_ci(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``k`` successes out of ``n`` (Wilson 1927; Newcombe 1998, method 3).

    Works element-wise on arrays; ``n == 0`` gives ``(0, 1)``.

    Example
    -------
    >>> lo, hi = wilson_ci(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), 0.0)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    return lo, hi


# --------------------------------------------------------------------------------------------- psychometric fits
@dataclass(frozen=True)
class PsychometricFit:
    """A fitted psychometric function of difficulty ``x`` (accuracy falls as ``x`` grows).

    ``p(x) = chance + (1 - chance - lapse) * S(x)`` with ``S`` falling from 1 to 0: logistic
    ``S = 1 / (1 + exp((x - alpha) / beta))`` or Weibull ``S = exp(-(x / alpha) ** beta)`` (x >= 0).
    ``threshold`` is the ``x`` where ``S = 0.5``: accuracy halfway between its best and chance.
    """

    kind: str  # "logistic" | "weibull"
    alpha: float  # location (x units)
    beta: float  # spread (logistic, x units) or shape (Weibull, unitless)
    lapse: float  # 1 - best accuracy (fixed unless fitted)
    chance: float  # guess rate
    threshold: float  # x at which accuracy is halfway between 1 - lapse and chance
    log_likelihood: float
    success: bool  # optimiser converged and the threshold is finite
    n_levels: int = 0

    def predict(self, x) -> np.ndarray:
        return psychometric_curve(self.kind, np.asarray(x, float), self.alpha, self.beta, self.lapse, self.chance)


def psychometric_curve(kind: str, x: np.ndarray, alpha: float, beta: float, lapse: float, chance: float
                       ) -> np.ndarray:
    """Accuracy at difficulty ``x``: ``chance + (1 - chance - lapse) * s(x)``, ``s`` falling from 1 to 0.

    ``kind`` is ``"logistic"`` (``alpha`` the midpoint, ``beta`` the scale) or ``"weibull"`` (``alpha`` the scale,
    ``beta`` the shape), as fitted by :func:`fit_psychometric`.

    Example
    -------
    >>> float(psychometric_curve("logistic", np.array([2.0]), 2.0, 1.0, 0.0, 0.5)[0])
    0.75
    """
    if kind == "logistic":
        s = 1.0 / (1.0 + np.exp(np.clip((x - alpha) / beta, -60, 60)))
    elif kind == "weibull":
        s = np.exp(-np.power(np.maximum(x, 0.0) / alpha, beta))
    else:
        raise ValueError(f"psychometric kind {kind!r}: expected 'logistic' or 'weibull'")
    return chance + (1.0 - chance - lapse) * s


def fit_psychometric(x, k, n, chance: float, *, kind: str = "logistic", lapse: float | None = 0.0
                     ) -> PsychometricFit:
    """Maximum-likelihood binomial fit of accuracy ``k / n`` against difficulty ``x`` (Wichmann & Hill 2001).

    Parameters
    ----------
    x, k, n : difficulty per level, correct counts, trial counts (equal-length arrays).
    chance : the guess rate (1 / number of choices).
    kind : "logistic" (any ``x``) or "weibull" (``x >= 0``).
    lapse : fixed lapse rate, or None to fit it in [0, 0.2].

    Example
    -------
    >>> fit = fit_psychometric([0, 1, 2, 3, 4], [98, 90, 70, 55, 51], [100] * 5, chance=0.5)
    >>> 1.5 < fit.threshold < 3.0
    True
    """
    x, k, n = (np.asarray(v, float) for v in (x, k, n))
    if not (x.shape == k.shape == n.shape) or x.ndim != 1:
        raise ValueError(f"x, k, n must be 1-d of equal length; got {x.shape}, {k.shape}, {n.shape}")
    if len(x) < 2:
        raise ValueError(f"a psychometric fit needs >= 2 difficulty levels; got {len(x)}")
    if kind == "weibull" and (x < 0).any():
        raise ValueError(f"a Weibull fit needs x >= 0; got min x = {x.min()}")
    span = float(x.max() - x.min()) or 1.0
    fit_lapse = lapse is None

    def unpack(theta):
        a = theta[0] if kind == "logistic" else math.exp(theta[0])
        b = math.exp(theta[1])
        lam = (0.2 / (1 + math.exp(-theta[2]))) if fit_lapse else float(lapse)
        return a, b, lam

    def nll(theta):
        a, b, lam = unpack(theta)
        p = np.clip(psychometric_curve(kind, x, a, b, lam, chance), 1e-9, 1 - 1e-9)
        return -float(np.sum(k * np.log(p) + (n - k) * np.log(1 - p)))

    # Bounded simplex search from a small grid of starts; the bounds keep degenerate data (all correct, or two
    # levels) from sending the location/spread to infinity, where an unbounded search wanders for thousands of
    # steps. (Not L-BFGS-B: its Fortran core stalls on BLAS threads on a loaded machine.)
    lo_x, hi_x = float(x.min()) - span, float(x.max()) + span
    if kind == "logistic":
        bounds = [(lo_x, hi_x), (math.log(span / 100), math.log(span * 10))]
    else:
        bounds = [(math.log(max(1e-3, 0.01 * span)), math.log(hi_x + span)), (math.log(0.2), math.log(20.0))]
    bounds += [(-8.0, 8.0)] if fit_lapse else []
    best = None
    for c in np.linspace(x.min(), x.max(), 4):
        for s in (0.2, 1.0):
            a0 = c if kind == "logistic" else math.log(max(c, 0.05 * span, 1e-3))
            b0 = math.log(s * span) if kind == "logistic" else math.log(1.0 + 3 * s)
            theta0 = np.clip([a0, b0] + ([-2.0] if fit_lapse else []), [b[0] for b in bounds], [b[1] for b in bounds])
            r = optimize.minimize(nll, theta0, method="Nelder-Mead", bounds=bounds,
                                  options={"xatol": 1e-5, "fatol": 1e-7, "maxiter": 1500})
            if best is None or r.fun < best.fun:
                best = r
    a, b, lam = unpack(best.x)
    thr = a if kind == "logistic" else a * math.log(2) ** (1 / b)
    at_bound = any(abs(v - lo) < 1e-6 or abs(v - hi) < 1e-6 for v, (lo, hi) in zip(best.x[:2], bounds[:2]))
    ok = bool(best.success) and math.isfinite(thr) and not at_bound  # a location/spread on its bound is no fit
    return PsychometricFit(kind, float(a), float(b), float(lam), float(chance), float(thr), -float(best.fun), ok,
                           int(len(x)))


# --------------------------------------------------------------------------------------------- McNemar
@dataclass(frozen=True)
class McNemar:
    """Paired comparison of two classifiers on the same trials (McNemar 1947)."""

    n: int  # paired trials
    both: int  # both correct
    only_a: int  # A correct, B wrong (b in the 2x2 table)
    only_b: int  # B correct, A wrong (c)
    neither: int
    p_value: float
    method: str  # "exact" (binomial on the discordant pairs) | "chi2" (with continuity correction)
    statistic: float = field(default=float("nan"))


def mcnemar(a_correct, b_correct, *, method: str = "exact") -> McNemar:
    """McNemar's test on paired correctness vectors; ``exact`` is a two-sided binomial test (scipy ``binomtest``).

    Example
    -------
    >>> r = mcnemar([1] * 9 + [0], [0] * 9 + [1])
    >>> (r.only_a, r.only_b), round(r.p_value, 6)
    ((9, 1), 0.021484)
    """
    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired vectors differ in length: {a.shape} vs {b.shape}")
    nb, nc = int((a & ~b).sum()), int((~a & b).sum())
    d = nb + nc
    if method == "exact":
        p = 1.0 if d == 0 else float(stats.binomtest(nb, d, 0.5).pvalue)
        stat = float(min(nb, nc))
    elif method == "chi2":
        stat = 0.0 if d == 0 else (abs(nb - nc) - 1) ** 2 / d
        p = 1.0 if d == 0 else float(stats.chi2.sf(stat, 1))
    else:
        raise ValueError(f"McNemar method {method!r}: expected 'exact' or 'chi2'")
    return McNemar(int(a.size), int((a & b).sum()), nb, nc, int((~a & ~b).sum()), p, method, stat)
