"""Data back in: the page's CSV/JSON downloads (or POST bodies) -> checked trial tables -> evaluation-schema rows.

Every test trial becomes one row of :data:`preattentive.evaluation.results.COLUMNS` with ``model =
human:<participant>`` (and again under ``human:pooled``; simulated observers under ``human:pooled-synthetic``),
``method`` = the condition (``masked-50``, ``unlimited``), the harness's ``trial_key`` (so McNemar tests pair people
with models on identical trials), ``parse`` = how the answer was given (``key``, ``button``, ``simulated``) and
``raw`` = JSON of the trial's timing and reaction time. The full per-trial table (reaction times, onsets, frames,
screen, browser) is kept in ``<study>/human/trials.parquet``.

Checks, each a one-line error naming file, row and value: the format tag, the phase and condition, a response
index inside the choices, ``correct`` agreeing with ``response == label``, one experiment per study, each trial at
most once per participant, and (``verify=True``) that the trial key, label and choices are what the stimulus
generator gives for (family, params, seed, index). Masked trials whose measured stimulus time was not the planned
whole number of frames (``timing_ok`` false: a dropped frame) are excluded unless ``keep_bad_timing``; the count is
reported.

Example
-------
>>> summary = import_responses(["preattentive-3f2a-p01.csv"], "study")  # doctest: +SKIP
>>> summary["participants"], summary["excluded"]  # doctest: +SKIP
(['p01'], {'timing': 0})
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from preattentive.evaluation.harness import results_path
from preattentive.evaluation.results import conform, write_results
from preattentive.evaluation.suites import Block
from preattentive.files import atomic_write_bytes, atomic_write_text

# column -> kind; the page writes these (and more: onsets, screen, browser), `human simulate` too
FIELDS: dict[str, str] = {
    "preattentive": "str", "experiment_id": "str", "participant": "str", "list": "int", "synthetic": "bool",
    "simulated_by": "str", "phase": "str", "trial_number": "int", "trial_key": "str", "trial_id": "str",
    "family": "str", "params": "str", "level": "int", "seed": "int", "index": "int", "question": "str",
    "choices": "str", "label": "int", "answer": "str", "difficulty": "str", "condition": "str",
    "duration_ms": "float", "mask": "str", "mask_ms": "float", "fixation_ms": "float", "frame_ms": "float",
    "planned_frames": "float", "stim_frames": "float", "stim_ms": "float", "mask_frames": "float",
    "max_interval_ms": "float", "timing_ok": "bool", "response": "int", "response_key": "str",
    "response_source": "str", "correct": "bool", "rt_ms": "float",
}
OPTIONAL: dict[str, str] = {"stim_onset_ms": "float", "stim_offset_ms": "float", "mask_measured_ms": "float",
                            "response_onset_ms": "float", "early_keys": "float", "display_px": "float",
                            "device_pixel_ratio": "float", "window_w": "float", "window_h": "float",
                            "user_agent": "str", "started_at": "str"}
PARTICIPANT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ResponseError(ValueError):
    """Response data that cannot be imported (one-line message naming the file, row and value)."""


def _value(v: Any, kind: str, where: str, col: str) -> Any:
    missing = v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() in
                                                                        ("", "null", "NaN", "undefined"))
    if kind == "str":
        return "" if v is None else str(v)
    if kind == "bool":
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        s = str(v).strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
        raise ResponseError(f"{where}: {col}={v!r}; expected true or false")
    if missing:
        if kind == "int":
            raise ResponseError(f"{where}: {col} is empty; expected an integer")
        return float("nan")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ResponseError(f"{where}: {col}={v!r}; expected a number") from None
    if kind == "int":
        if x != int(x):
            raise ResponseError(f"{where}: {col}={v!r}; expected an integer")
        return int(x)
    return x


def _rows_of(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ResponseError(f"response file {str(path)!r} does not exist")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ResponseError(f"{path.name}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ResponseError(f"{path.name}: expected a JSON array of trial objects (the page's download)")
        return data
    if path.suffix.lower() == ".csv":
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise ResponseError(f"{path.name}: not a readable CSV ({str(e).splitlines()[0]})") from None
    raise ResponseError(f"response file {path.name!r}: expected a .csv or .json download of the experiment page")


def read_responses(files: Iterable[str | os.PathLike], *, verify: bool = True) -> pd.DataFrame:
    """Every practice and test trial of the files, typed and checked (see the module docstring), one row each.

    Example
    -------
    >>> df = read_responses(["p01.csv", "p02.json"])  # doctest: +SKIP
    >>> df.groupby(["participant", "condition"])["correct"].mean()  # doctest: +SKIP
    """
    from preattentive.human.export import FORMAT

    records = []
    paths = [Path(f) for f in files]
    if not paths:
        raise ResponseError("no response files given; expected the .csv or .json files the page downloads")
    for path in paths:
        rows = [r for r in _rows_of(path) if str(r.get("phase", "")) in ("practice", "test")]
        if not rows:
            raise ResponseError(f"{path.name}: no practice or test trials; expected the experiment page's download")
        missing = [c for c in FIELDS if c not in rows[0]]
        if missing:
            raise ResponseError(f"{path.name}: lacks columns {missing[:4]}; expected the page's fields "
                                f"({', '.join(list(FIELDS)[:6])}, ...)")
        for k, r in enumerate(rows):
            where = f"{path.name} row {k + 1}"
            rec = {c: _value(r.get(c), kind, where, c) for c, kind in {**FIELDS, **OPTIONAL}.items()}
            if rec["preattentive"] != FORMAT:
                raise ResponseError(f"{where}: preattentive={rec['preattentive']!r}; expected {FORMAT!r}")
            _check_row(rec, where)
            rec["source"] = path.name
            records.append(rec)
    df = pd.DataFrame.from_records(records)
    ids = sorted(df["experiment_id"].unique())
    if len(ids) > 1:
        raise ResponseError(f"files come from experiments {', '.join(ids)}; expected one experiment per import")
    key = ["participant", "phase", "trial_key"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        same = df[dup].drop(columns=["source"]).astype(str).drop_duplicates()
        if same.duplicated(key, keep=False).any():  # the same trial answered twice, differently
            r = df[dup].iloc[0]
            raise ResponseError(f"participant {r['participant']} has trial {r['trial_key']} twice "
                                f"({', '.join(sorted(set(df[dup]['source'])))}); expected each trial once")
        df = df.drop_duplicates(key)  # the same file given twice: identical rows, kept once
    if verify:
        _verify_trials(df)
    return df.reset_index(drop=True)


def _check_row(rec: dict[str, Any], where: str) -> None:
    if not PARTICIPANT.match(rec["participant"]) or rec["participant"].startswith("pooled"):
        raise ResponseError(f"{where}: participant={rec['participant']!r}; expected 1-64 letters, digits, . _ - "
                            f"(not starting with 'pooled')")
    try:
        choices = json.loads(rec["choices"])
    except json.JSONDecodeError:
        raise ResponseError(f"{where}: choices={rec['choices']!r}; expected a JSON list of strings") from None
    if not isinstance(choices, list) or not 0 <= rec["label"] < len(choices):
        raise ResponseError(f"{where}: label {rec['label']} with choices {rec['choices']}; expected a valid index")
    if not -1 <= rec["response"] < len(choices):
        raise ResponseError(f"{where}: response={rec['response']}; expected -1 (none) or 0..{len(choices) - 1}")
    if rec["correct"] != (rec["response"] == rec["label"]):
        raise ResponseError(f"{where}: correct={rec['correct']} but response {rec['response']} and label "
                            f"{rec['label']}; expected correct = (response == label)")
    dur = rec["duration_ms"]
    name = "unlimited" if math.isnan(dur) else f"masked-{dur:g}"
    if rec["condition"] != name:
        raise ResponseError(f"{where}: condition={rec['condition']!r} with duration_ms={dur}; expected {name!r}")


def _verify_trials(df: pd.DataFrame) -> None:
    """Each distinct trial is what the generator gives for (family, params, seed, index): key, label, choices."""
    from preattentive import stimuli

    gens: dict[tuple[str, str, int], Any] = {}
    for r in df.drop_duplicates("trial_key").itertuples():
        try:
            params = json.loads(r.params)
            block = Block(r.family, None if r.level < 0 else r.level, 1, int(r.seed), params)
            if block.trial_key(int(r.index)) != r.trial_key:
                raise ResponseError(f"trial {r.trial_key}: its family/params/seed/index give key "
                                    f"{block.trial_key(int(r.index))}; expected the same key")
            k = (r.family, r.params, int(r.seed))
            if k not in gens:
                gens[k] = stimuli.make(r.family, seed=int(r.seed), **params)
            t = gens[k].trial(int(r.index))
        except (ValueError, KeyError, TypeError) as e:
            if isinstance(e, ResponseError):
                raise
            raise ResponseError(f"trial {r.trial_key}: cannot be regenerated ({str(e).splitlines()[0]})") from None
        if t.label != r.label or list(t.choices) != json.loads(r.choices):
            raise ResponseError(f"trial {r.trial_key}: label {r.label} / choices {r.choices} in the file, but the "
                                f"generator gives {t.label} / {list(t.choices)}; expected the same trial")


def pooled_name(synthetic: bool) -> str:
    return "human:pooled-synthetic" if synthetic else "human:pooled"


def to_results(trials: pd.DataFrame, *, keep_bad_timing: bool = False) -> pd.DataFrame:
    """Evaluation-schema rows of the test trials: per participant and pooled (people and simulated apart).

    Example
    -------
    >>> rows = to_results(read_responses(["p01.csv"]))  # doctest: +SKIP
    >>> sorted(rows["model"].unique()), sorted(rows["method"].unique())  # doctest: +SKIP
    (['human:p01', 'human:pooled'], ['masked-50', 'unlimited'])
    """
    t = trials[(trials["phase"] == "test") & (keep_bad_timing | trials["timing_ok"])]
    rows = []
    for r in t.itertuples():
        choices = json.loads(r.choices)
        options = {"condition": r.condition, "duration_ms": None if math.isnan(r.duration_ms) else r.duration_ms,
                   "experiment": r.experiment_id, "fixation_ms": r.fixation_ms, "mask": r.mask,
                   "mask_ms": r.mask_ms, "synthetic": bool(r.synthetic), "simulated_by": r.simulated_by}
        raw = {"participant": r.participant, "list": r.list, "trial_number": r.trial_number,
               "rt_ms": None if math.isnan(r.rt_ms) else r.rt_ms, "response_key": r.response_key,
               "stim_ms": None if math.isnan(r.stim_ms) else r.stim_ms,
               "stim_frames": None if math.isnan(r.stim_frames) else int(r.stim_frames),
               "planned_frames": None if math.isnan(r.planned_frames) else int(r.planned_frames),
               "frame_ms": r.frame_ms, "timing_ok": bool(r.timing_ok)}
        base = {"model_fingerprint": r.experiment_id, "method": r.condition,
                "options": json.dumps(options, sort_keys=True, separators=(",", ":")), "family": r.family,
                "params": json.dumps(json.loads(r.params), sort_keys=True, separators=(",", ":")),
                "level": r.level, "difficulty": r.difficulty, "trial_id": r.trial_id, "trial_key": r.trial_key,
                "seed": r.seed, "index": r.index, "question": r.question, "answer": choices[r.label],
                "label": r.label, "n_choices": len(choices), "chance": 1.0 / len(choices),
                "prediction": r.response, "predicted": choices[r.response] if r.response >= 0 else "",
                "correct": bool(r.response == r.label), "raw": json.dumps(raw, sort_keys=True),
                "parse": r.response_source if r.response >= 0 else "unparseable"}
        rows.append({"model": f"human:{r.participant}", **base})
        rows.append({"model": pooled_name(bool(r.synthetic)), **base})
    if not rows:
        from preattentive.evaluation.results import empty_results

        return empty_results()
    return conform(pd.DataFrame(rows))


def import_responses(files: Iterable[str | os.PathLike], out: str | os.PathLike, *, keep_bad_timing: bool = False,
                     verify: bool = True) -> dict[str, Any]:
    """Read response files into the study ``out``: ``out/eval/human-*.parquet`` (evaluation schema, per participant
    x condition and pooled), ``out/human/trials.parquet`` (every trial, all fields) and ``out/human/import.json``.

    Participants already in ``out/human/trials.parquet`` are kept unless re-imported (their rows are replaced),
    so pooled rows always cover everyone imported so far. Returns the summary written to ``import.json``.

    Example
    -------
    >>> import_responses(["p01.csv", "p02.csv"], "study")["participants"]  # doctest: +SKIP
    ['p01', 'p02']
    """
    out = Path(out)
    new = read_responses(files, verify=verify)
    store = out / "human" / "trials.parquet"
    old = pd.read_parquet(store) if store.is_file() else new.iloc[:0]
    if len(old) and set(old["experiment_id"]) != set(new["experiment_id"]):
        raise ResponseError(f"{out} holds experiment {old['experiment_id'].iloc[0]}, these files "
                            f"{new['experiment_id'].iloc[0]}; expected one experiment per study directory")
    trials = pd.concat([old[~old["participant"].isin(set(new["participant"]))], new], ignore_index=True)
    trials = trials.sort_values(["participant", "phase", "trial_number"], kind="stable").reset_index(drop=True)
    rows = to_results(trials, keep_bad_timing=keep_bad_timing)
    (out / "human").mkdir(parents=True, exist_ok=True)
    for f in (out / "eval").glob("human-*.parquet") if (out / "eval").is_dir() else []:
        f.unlink()  # rewritten below from the whole store: no stale participant or condition files
    for (model, method), part in rows.groupby(["model", "method"], sort=True):
        write_results(part, results_path(out, model, method, {}))
    _atomic_parquet(trials, store)
    test = trials[trials["phase"] == "test"]
    masked = test[test["duration_ms"].notna()]
    summary = {
        "experiment_id": str(trials["experiment_id"].iloc[0]),
        "files": sorted(set(new["source"])),
        "participants": sorted(set(trials["participant"])),
        "synthetic": sorted(set(trials.loc[trials["synthetic"], "participant"])),
        "simulated_by": sorted(set(trials.loc[trials["synthetic"], "simulated_by"])),
        "test_trials": int(len(test)),
        "excluded": {"timing": 0 if keep_bad_timing else int((~masked["timing_ok"]).sum())},
        "rows": int(len(rows)),
        "models": sorted(set(rows["model"])),
    }
    _atomic_text(out / "human" / "import.json", json.dumps(summary, indent=1) + "\n")
    _update_notes(out, summary, masked)
    return summary


def _update_notes(out: Path, s: dict[str, Any], masked: pd.DataFrame) -> None:
    """Replace this importer's notes in ``notes.json`` (those with ``"source": "human"``), keeping the others."""
    p = out / "notes.json"
    try:
        notes = json.loads(p.read_text()) if p.is_file() else []
    except json.JSONDecodeError:
        raise ResponseError(f"{p} is not valid JSON; expected the study's notes list") from None
    notes = [n for n in notes if not (isinstance(n, dict) and n.get("source") == "human")]
    people = [x for x in s["participants"] if x not in s["synthetic"]]
    real = masked[~masked["synthetic"]]
    frames, ms = real["stim_frames"].dropna(), real["stim_ms"].dropna()
    text = (f"Human rows (experiment {s['experiment_id']}): {len(people)} participant(s) and {len(s['synthetic'])} "
            f"simulated observer(s), {s['test_trials']} test trials. Method masked-<ms>: the image for that many ms "
            f"(whole display frames) then a {masked['mask'].iloc[0] if len(masked) else ''} mask; unlimited: the "
            f"image until the answer. {s['excluded']['timing']} masked trial(s) excluded for a dropped frame"
            + (f"; people's measured stimulus durations {int(frames.min())}–{int(frames.max())} frames, "
               f"{ms.min():.1f}–{ms.max():.1f} ms" if len(frames) else "") + ".")
    notes.append({"section": "evaluation", "text": text, "source": "human"})
    if s["synthetic"]:
        notes.append({"section": "evaluation", "source": "human", "text":
                      f"SYNTHETIC: {', '.join('human:' + x for x in s['synthetic'])} and human:pooled-synthetic are "
                      f"simulated observers ({', '.join(s['simulated_by'])}), not people: the model answered the "
                      f"exported trials (preattentive human simulate)."})
    _atomic_text(p, json.dumps(notes, indent=1) + "\n")


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


__all__ = ["FIELDS", "ResponseError", "import_responses", "pooled_name", "read_responses",
           "to_results"]
