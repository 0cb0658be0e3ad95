"""Findings computed from a study's result tables by stated rules — the sentences at the top of a report.

Every finding is generated here from numbers, never typed by hand, and a result against the hypothesis is
reported exactly like one for it. The rules (also printed in the report's Methods section, :data:`RULES`):

- **informative**: a (model, method, task) curve is *not informative* when its 95 % Wilson interval contains
  chance at every rung ("at chance at every rung") or contains 1 at every rung ("at ceiling at every rung"), or
  when at every rung at least half its answers could not be read as any choice ("answers unreadable"); it is
  *not applicable* when the model could not be asked (a prompt word unknown to a closed-vocabulary text encoder,
  :mod:`preattentive.evaluation.applicability`). Neither kind is drawn or summarised as a result.
- **threshold**: the rung at which the logistic psychometric fit is halfway between the best accuracy and chance,
  reported only inside the ladder; otherwise "no fall-off within the ladder" when even the hardest rung's interval
  lies above that halfway point, else "no threshold inside the ladder".
- **feedforward vs recurrent**: per task, the recurrent net's accuracy minus its feedforward partner's on the same
  trials, a 95 % Wald interval for the paired difference, and McNemar's exact test: p < 0.05 gives "recurrent
  better" or "feedforward better", otherwise "no detectable difference at n = N". The sentence lists both nets'
  accuracy per rung (where the difference lies) and, when the study records it, the rungs they were trained on
  (rungs beyond those test transfer, not the trained task).
- **probe vs answer**: a linear probe of the model's features against its own answers on the same rungs: probe
  interval wholly above the answers' → "information present but not used"; wholly below → "the model's answer
  uses more than the probed layer holds"; overlapping → "the answer uses what the layer holds".
- **physiology**: per model and analysis, the first step at which units whose whole step-1 receptive field sees
  identical pixels depart from 0 (population sign-flip test, p < 0.05 / steps tested).
- **summary per model**: "shows signatures of recurrence on" collects recurrent-better verdicts and physiology
  departures after step 1; "consistent with a single feedforward sweep on" collects the rest of its informative
  evidence (no recurrent advantage, contained units that stay at 0, tasks a one-step model solves).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from preattentive.evaluation.results import accuracy_table, compare_models, psychometric_table, with_task

RULES = __doc__.split("rules (also printed in the report's Methods section, :data:`RULES`):", 1)[1].strip()
# Report anchors of the panels that support each kind of finding (report.html's section ids).
PANELS = {"informative": "psychometric-curves", "threshold": "psychometric-curves",
          "ff-vs-recurrent": "paired-comparisons", "probe": "linear-probes",
          "border-ownership": "border-ownership", "figure-ground": "figure-ground-modulation-over-time"}
ALPHA = 0.05  # significance level of every test a finding states


@dataclass
class Finding:
    """One generated sentence with the numbers and the rule behind it."""

    kind: str  # informative | threshold | ff-vs-recurrent | probe | border-ownership | figure-ground
    model: str
    text: str
    verdict: str = ""  # the rule's outcome, e.g. "recurrent better", "not informative", "departs at step 2"
    task: str = ""
    method: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    panel: str = ""  # report anchor

    def __post_init__(self) -> None:
        self.panel = self.panel or PANELS.get(self.kind, "")


@dataclass
class Findings:
    """Everything :func:`compute_findings` derived: the findings, one summary paragraph per model, and the
    informativeness of every (model, method, task) curve."""

    items: list[Finding]
    paragraphs: list[dict[str, Any]]  # {"model", "text", "recurrence": [...], "single_sweep": [...], ...}
    status: pd.DataFrame  # model, method, task, status, reason

    def to_dict(self) -> dict[str, Any]:
        return {"rules": RULES, "findings": [asdict(f) for f in self.items], "paragraphs": self.paragraphs,
                "status": _records(self.status)}

    def lines(self) -> list[str]:
        """The findings and paragraphs as terminal lines."""
        return [f.text for f in self.items] + [p["text"] for p in self.paragraphs]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _f(x: float, nd: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _label(model: str, method: str) -> str:
    return f"{model} [{method}]"


# --------------------------------------------------------------------------------------------- rules
def curve_status(acc: pd.DataFrame, not_applicable: Iterable[dict[str, Any]] = ()) -> pd.DataFrame:
    """The informativeness rule per (model, method, task): columns model, method, family, task, status, reason.

    ``acc`` is :func:`~preattentive.evaluation.results.accuracy_table` output (one row per level);
    ``not_applicable`` rows ({model, method, family, reason}) were never evaluated and are added as such.

    Example
    -------
    >>> acc = pd.DataFrame({"model": "m", "method": "zero-shot", "family": "f", "task": "f", "level": [0, 1],
    ...                     "n": 40, "k": [20, 21], "accuracy": [0.5, 0.525], "ci_lo": [0.35, 0.37],
    ...                     "ci_hi": [0.65, 0.67], "chance": 0.5})
    >>> curve_status(acc)["status"].tolist()
    ['not informative']
    """
    rows = []
    for (m, meth, fam, task), t in acc.groupby(["model", "method", "family", "task"], sort=True):
        at_chance = bool(((t["ci_lo"] <= t["chance"]) & (t["chance"] <= t["ci_hi"])).all())
        at_ceiling = bool((t["ci_hi"] >= 1.0 - 1e-12).all())
        unread = (t["unparsed"] / t["n"]) if "unparsed" in t else pd.Series(0.0, index=t.index)
        reason = (f"answers unreadable at every rung ({unread.min():.0%}–{unread.max():.0%} matched no choice)"
                  if bool((unread >= 0.5).all()) else
                  "at chance at every rung (each 95 % CI contains chance)" if at_chance else
                  "at ceiling at every rung (each 95 % CI contains 1)" if at_ceiling else "")
        rows.append({"model": m, "method": meth, "family": fam, "task": task,
                     "status": "not informative" if reason else "informative", "reason": reason})
    for r in not_applicable:
        rows.append({"model": r["model"], "method": r["method"], "family": r["family"], "task": r["family"],
                     "status": "not applicable", "reason": r["reason"]})
    return pd.DataFrame(rows, columns=["model", "method", "family", "task", "status", "reason"])


def paired_difference_ci(only_a: int, only_b: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """``(d, lo, hi)``: B's accuracy minus A's on paired trials and its Wald interval (Fleiss et al. 2003, 13.3).

    Example
    -------
    >>> d, lo, hi = paired_difference_ci(5, 15, 100)
    >>> round(d, 2), lo < d < hi
    (0.1, True)
    """
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    d = (only_b - only_a) / n
    se = math.sqrt(max((only_a + only_b) / n - d * d, 0.0) / n)
    z = float(stats.norm.ppf(0.5 + level / 2))
    return d, d - z * se, d + z * se


def threshold_findings(acc: pd.DataFrame, fits: pd.DataFrame, status: pd.DataFrame) -> list[Finding]:
    """The threshold rule for every informative, non-probe curve."""
    out = []
    ok = status[status["status"] == "informative"]
    for r in ok.itertuples():
        if str(r.method).startswith("probe"):
            continue
        t = acc[(acc["model"] == r.model) & (acc["method"] == r.method) & (acc["task"] == r.task)]
        t = t[t["level"] >= 0].sort_values("level")
        if len(t) < 2:
            continue
        f = fits[(fits["model"] == r.model) & (fits["method"] == r.method) & (fits["task"] == r.task)]
        chance, best = float(t["chance"].mean()), float(t["accuracy"].max())
        half = chance + (best - chance) / 2
        last = t.iloc[-1]
        nums = {"chance": chance, "best": best, "n_per_rung": int(t["n"].min()), "rungs": len(t),
                "hardest_accuracy": float(last["accuracy"]), "hardest_ci": [float(last["ci_lo"]), float(last["ci_hi"])]}
        head = f"{_label(r.model, r.method)} on {r.task}"
        if len(f) and bool(f["success"].iloc[0]):
            thr = float(f["threshold"].iloc[0])
            nums["threshold"] = thr
            text = (f"{head}: accuracy falls halfway to chance at rung {thr:.1f} of {int(t['level'].min())}–"
                    f"{int(t['level'].max())} (best {best:.2f}, chance {chance:.2f}; logistic fit, n = "
                    f"{nums['n_per_rung']} per rung).")
            verdict = "threshold"
        elif float(last["ci_lo"]) > half:
            text = (f"{head}: no fall-off within the ladder — {last['accuracy']:.2f} [{last['ci_lo']:.2f}, "
                    f"{last['ci_hi']:.2f}] at the hardest rung {int(last['level'])} (best {best:.2f}, chance "
                    f"{chance:.2f}).")
            verdict = "no fall-off within the ladder"
        else:
            first = t.iloc[0]
            text = (f"{head}: {first['accuracy']:.2f} at rung {int(first['level'])} to {last['accuracy']:.2f} at rung "
                    f"{int(last['level'])} (chance {chance:.2f}); no threshold inside the ladder.")
            verdict = "no threshold inside the ladder"
        out.append(Finding("threshold", r.model, text, verdict, task=r.task, method=r.method, numbers=nums))
    return out


def pair_findings(ev: pd.DataFrame, pairs: Iterable[tuple[str, str]], status: pd.DataFrame,
                  acc: pd.DataFrame | None = None, trained_on: dict[str, str] | None = None) -> list[Finding]:
    """The feedforward-vs-recurrent rule for every (feedforward, recurrent) pair and shared task.

    ``acc`` (:func:`~preattentive.evaluation.results.accuracy_table` rows) adds both nets' accuracy per rung;
    ``trained_on`` (model name -> what it was trained on, e.g. "rungs 0, 1") adds the training regime."""
    out = []
    trained_on = trained_on or {}
    st = status.set_index(["model", "task"])["status"] if len(status) else pd.Series(dtype=str)
    for ff, rec in pairs:
        if not ({ff, rec} <= set(ev["model"])):
            continue
        c = compare_models(ev, ff, rec)
        for r in c.itertuples():
            d, lo, hi = paired_difference_ci(r.only_a, r.only_b, r.n)
            nums = {"n": int(r.n), "acc_feedforward": r.acc_a, "acc_recurrent": r.acc_b, "difference": d,
                    "ci": [lo, hi], "p_value": r.p_value, "only_feedforward": int(r.only_a),
                    "only_recurrent": int(r.only_b)}
            uninformative = [m for m in (ff, rec) if st.get((m, r.task)) == "not informative"]
            if len(uninformative) == 2:
                verdict = "not informative"
            elif r.p_value < ALPHA:
                verdict = "recurrent better" if d > 0 else "feedforward better"
            else:
                verdict = f"no detectable difference at n = {r.n}"
            by_level = _by_level(acc, ff, rec, r.task) if acc is not None else []
            if by_level:
                nums["by_level"] = by_level
            parts = []
            if ff in trained_on and rec in trained_on:  # "both" only when both regimes are recorded
                parts.append(f"both trained on {trained_on[ff]}" if trained_on[ff] == trained_on[rec]
                             else f"{ff} trained on {trained_on[ff]}, {rec} on {trained_on[rec]}")
            if by_level:
                parts.append(f"by rung ({ff} / {rec}): " + ", ".join(
                    f"{b['level']}: {_f(b['feedforward'])} / {_f(b['recurrent'])}" for b in by_level))
            context = "; ".join(parts)
            text = (f"{r.task}: {rec} {r.acc_b:.3f} vs {ff} {r.acc_a:.3f} (recurrent − feedforward = {d:+.3f}, 95 % CI "
                    f"[{lo:+.3f}, {hi:+.3f}], McNemar exact p = {r.p_value:.3g}, n = {r.n}): {verdict}"
                    + (" — both nets at chance or at ceiling at every rung, so the comparison cannot move"
                       if verdict == "not informative" else "") + (f" [{context}]." if context else "."))
            out.append(Finding("ff-vs-recurrent", rec, text, verdict, task=r.task, numbers={
                **nums, "feedforward": ff, "recurrent": rec}))
    return out


def _by_level(acc: pd.DataFrame, ff: str, rec: str, task: str) -> list[dict[str, Any]]:
    """Both nets' accuracy at each rung of ``task`` both were tested on (level order)."""
    t = acc[(acc["task"] == task) & acc["model"].isin([ff, rec])]
    if t.empty:
        return []
    w = t.pivot_table(index="level", columns="model", values="accuracy", aggfunc="mean")
    if not {ff, rec} <= set(w.columns):
        return []
    return [{"level": int(lv) if float(lv).is_integer() else float(lv), "feedforward": float(row[ff]),
             "recurrent": float(row[rec])} for lv, row in w.dropna().sort_index().iterrows()]


def probe_findings(acc: pd.DataFrame, status: pd.DataFrame) -> list[Finding]:
    """The probe-vs-answer rule per (model, task) with probe rows, on the rungs both were measured at."""
    from preattentive.evaluation.stats import wilson_ci

    out = []
    st = status.set_index(["model", "method", "task"])
    for (model, task), t in acc.groupby(["model", "task"], sort=True):
        probes = t[t["method"].str.startswith("probe")]
        own = t[~t["method"].str.startswith("probe")]
        for pm, p in probes.groupby("method"):
            levels = set(p["level"])
            k, n = int(p["k"].sum()), int(p["n"].sum())
            lo, hi = (float(v) for v in wilson_ci(k, n))
            chance = float(p["chance"].mean())
            nums = {"probe": k / n, "probe_ci": [lo, hi], "chance": chance, "probe_method": pm}
            own_methods = own["method"].unique().tolist()
            na = status[(status["model"] == model) & (status["task"] == task) & (status["status"] == "not applicable")]
            if not own_methods:
                why = f" ({na['reason'].iloc[0]})" if len(na) else ""
                above = lo > chance
                text = (f"{model} on {task}: the model's own answer was not measured{why}; the linear probe "
                        f"({pm}) carries the family: {k / n:.2f} [{lo:.2f}, {hi:.2f}] vs chance {chance:.2f} — "
                        + ("the information is present in its features." if above else
                           "not decodable above chance."))
                out.append(Finding("probe", model, text, "probe only: " + ("present" if above else "absent"),
                                   task=task, method=pm, numbers=nums))
                continue
            for om in own_methods:
                o = own[(own["method"] == om) & own["level"].isin(levels)]
                if o.empty or st.get("status", pd.Series()).get((model, om, task)) == "not informative":
                    continue
                ko, no = int(o["k"].sum()), int(o["n"].sum())
                olo, ohi = (float(v) for v in wilson_ci(ko, no))
                if lo > ohi:
                    verdict = "information present but not used"
                elif hi < olo:
                    verdict = "the model's answer uses more than the probed layer holds"
                else:
                    verdict = "the answer uses what the layer holds"
                text = (f"{model} on {task}: linear probe ({pm}) {k / n:.2f} [{lo:.2f}, {hi:.2f}] vs its own {om} "
                        f"answers {ko / no:.2f} [{olo:.2f}, {ohi:.2f}] on the same rungs: {verdict}.")
                out.append(Finding("probe", model, text, verdict, task=task, method=om,
                                   numbers={**nums, "own": ko / no, "own_ci": [olo, ohi], "own_method": om}))
    return out


def physiology_findings(bo_summary: pd.DataFrame | None, fg: pd.DataFrame | None,
                        departure: pd.DataFrame | None) -> list[Finding]:
    """The physiology rule per (model, analysis): departure steps of layers with contained units."""
    out = []
    tables = (("border-ownership", bo_summary, "fraction_significant", "fraction BO-selective"),
              ("figure-ground", None if fg is None else fg[fg["region"] == "centre"], "modulation", "modulation"))
    for analysis, table, col, what in tables:
        if table is None or not len(table):
            continue
        dep = departure[departure["analysis"] == analysis] if departure is not None and len(departure) else None
        for model, d in table.groupby("model", sort=False):
            n_steps = int(d["step"].max())
            parts, departed, none = [], [], []
            for layer, s in d.groupby("layer", sort=False):
                s = s.sort_values("step")
                rf = int(s["rf_px"].iloc[0])
                if s["n_contained"].max() == 0:
                    none.append(f"{layer} ({rf} px)")
                    continue
                step = np.nan
                if dep is not None:
                    hit = dep[(dep["model"] == model) & (dep["layer"] == layer)]
                    step = float(hit["departure_step"].iloc[0]) if len(hit) else np.nan
                vals = " → ".join(_f(v) for v in s[col])
                if math.isnan(step):
                    parts.append(f"{layer} ({rf} px RF, {int(s['n_contained'].max())} contained units) stays at 0 "
                                 f"[{what} by step: {vals}]")
                else:
                    departed.append({"layer": layer, "step": int(step)})
                    p = float(s.set_index("step")["p_population"].get(int(step), np.nan))
                    parts.append(f"{layer} ({rf} px RF, {int(s['n_contained'].max())} contained units) departs from "
                                 f"0 at step {int(step)} (population p = {p:.3g}) [{what} by step: {vals}]")
            if not parts:
                text = (f"{analysis}, {model}: no layer has units whose receptive field fits inside the identical "
                        f"pixels ({', '.join(none)}), so nothing was measured.")
                verdict = "no contained units"
            else:
                sweep = "one step" if n_steps == 1 else f"{n_steps} steps"
                text = (f"{analysis}, {model} ({sweep}): " + "; ".join(parts)
                        + (f"; no contained units in {', '.join(none)}" if none else "") + ".")
                verdict = (f"departs at step {min(x['step'] for x in departed)}" if departed else "stays at 0")
            out.append(Finding(analysis, model, text, verdict, numbers={
                "steps": n_steps, "departures": departed, "not_contained": none}))
    return out


def paragraphs(items: list[Finding], status: pd.DataFrame, steps: dict[str, int]) -> list[dict[str, Any]]:
    """The summary rule: one paragraph per model from its findings (links: each clause's panel anchor)."""
    models = list(dict.fromkeys([*status["model"], *(f.model for f in items)]))
    out = []
    for model in models:
        rec, single, notinf = [], [], []
        one_step = steps.get(model, 1) == 1
        for f in items:
            involved = f.model == model or f.numbers.get("feedforward") == model
            if not involved:
                continue
            if f.kind == "ff-vs-recurrent":
                if f.verdict == "recurrent better" and f.model == model:
                    rec.append((f"{f.task} (recurrent better than {f.numbers['feedforward']})", f.panel))
                elif f.verdict == "not informative":
                    notinf.append((f"{f.task} comparison", f.panel))
                elif f.verdict == "recurrent better":
                    single.append((f"{f.task} (its recurrent partner {f.model} does better)", f.panel))
                else:
                    single.append((f"{f.task} ({f.verdict} from its {'recurrent' if f.model != model else 'feedforward'}"
                                   f" partner)", f.panel))
            elif f.kind in ("border-ownership", "figure-ground") and f.model == model:
                if f.verdict.startswith("departs"):
                    layers = ", ".join(f"{d['layer']} at step {d['step']}" for d in f.numbers["departures"])
                    rec.append((f"{f.kind} (contained units depart from 0: {layers})", f.panel))
                elif f.verdict == "stays at 0":
                    single.append((f"{f.kind} (contained units stay at 0"
                                   + (", by construction" if one_step else "") + ")", f.panel))
            elif f.kind == "threshold" and f.model == model and one_step:
                single.append((f"{f.task} [{f.method}] ({f.verdict}, one step)", f.panel))
        for r in status[(status["model"] == model) & (status["status"] != "informative")].itertuples():
            notinf.append((f"{r.task} [{r.method}]: {r.status}", PANELS["informative"]))
        words = lambda xs: "; ".join(x for x, _ in xs) if xs else "nothing measured"  # noqa: E731
        text = (f"{model}: consistent with a single feedforward sweep on: {words(single)}. Shows signatures of "
                f"recurrence on: {words(rec) if rec else 'nothing'}.")
        if notinf:
            text += f" Not informative or not applicable: {words(notinf)}."
        out.append({"model": model, "text": text, "single_sweep": [{"clause": c, "panel": p} for c, p in single],
                    "recurrence": [{"clause": c, "panel": p} for c, p in rec],
                    "not_informative": [{"clause": c, "panel": p} for c, p in notinf]})
    return out


def compute_findings(ev: pd.DataFrame, *, pairs: Iterable[tuple[str, str]] = (),
                     not_applicable: Iterable[dict[str, Any]] = (), physiology: dict[str, pd.DataFrame] | None = None,
                     trained_on: dict[str, str] | None = None) -> Findings:
    """Every finding of a study from its evaluation rows (and physiology tables), by the rules of :data:`RULES`.

    Parameters
    ----------
    ev : the study's evaluation rows (:func:`~preattentive.evaluation.results.read_results`).
    pairs : ``(feedforward model, recurrent model)`` names to compare on their shared tasks.
    not_applicable : blocks that were not evaluated because the model could not be asked ({model, method,
        family, reason}).
    physiology : ``{"bo_summary", "fg", "departure"}`` tables (``DIR/physiology/*.parquet``), optional.
    trained_on : model name -> what it was trained on ("rungs 0, 1"), stated in the pair findings.

    Example
    -------
    >>> f = compute_findings(read_results("runs/demo/eval"), pairs=[("cnn-30k@x", "blt-30k@x")])  # doctest: +SKIP
    >>> print("\\n".join(f.lines()))  # doctest: +SKIP
    """
    physiology = physiology or {}
    ev = with_task(ev) if len(ev) else ev
    acc = accuracy_table(ev) if len(ev) else pd.DataFrame(columns=["model", "method", "family", "task", "level"])
    status = curve_status(acc, not_applicable)
    items: list[Finding] = []
    for r in status[status["status"] != "informative"].itertuples():
        items.append(Finding("informative", r.model, f"{_label(r.model, r.method)} on {r.task}: {r.status} — "
                             f"{r.reason.removeprefix('not applicable: ')}.", r.status, task=r.task, method=r.method))
    if len(ev):
        items += threshold_findings(acc, psychometric_table(ev), status)
        items += pair_findings(ev, list(pairs), status, acc, trained_on)
        items += probe_findings(acc, status)
    items += physiology_findings(physiology.get("bo_summary"), physiology.get("fg"), physiology.get("departure"))
    steps: dict[str, int] = {}
    for key in ("bo_summary", "fg"):
        t = physiology.get(key)
        if t is not None and len(t):
            steps.update(t.groupby("model")["step"].max().astype(int).to_dict())
    for ff, rec in pairs:
        steps.setdefault(ff, 1)
        steps.setdefault(rec, 2)
    return Findings(items, paragraphs(items, status, steps), status)
