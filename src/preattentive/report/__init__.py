"""Room 6 — figures (pure: table -> matplotlib Figure) and one self-contained HTML page per study directory.

Study-directory layout (the contract between the rooms that write a study and the report that reads it)
-----------------------------------------------------------------------------------------------------
Every path is optional; the report draws what it finds and shows a visible note for what is missing.

``DIR/study.json``
    ``{"title": str, "description": str, "command": str, ...}`` — the page header (free text, escaped).
``DIR/eval/*.parquet``
    Per-trial evaluation rows written by :func:`preattentive.evaluation.evaluate` (one file per model × method,
    named ``<model-slug>__<method>.parquet``). Columns: see :data:`preattentive.evaluation.results.COLUMNS`
    (model, method, family, level, difficulty, trial_id, seed, index, label, prediction, correct, raw, parse,
    chance, n_choices, ...). Accuracy tables, psychometric fits and McNemar comparisons are computed from these.
``DIR/compare/*.parquet``
    Optional precomputed comparisons (e.g. :func:`preattentive.evaluation.compare_models` output), shown as extra
    tables; independently, the report compares every pair of models that answered the same trials.
``DIR/stimuli/<family>.png``
    Optional stimulus-example strips (one per family id, e.g. ``figure-ground-v1.png``). When absent the report
    regenerates examples from the seeds and levels recorded in the eval rows.
``DIR/physiology/fg_modulation.parquet``, ``DIR/physiology/bo_index.parquet`` (and any other physiology tables)
    Written by the physiology room. The report hands ``DIR`` to ``preattentive.report.physiology.sections(DIR)``
    (owned by the physiology engineer), which returns a list of :class:`preattentive.report.html.Section`; if that
    module or function is missing, or returns nothing, the page shows a "not built" note in the physiology slot.
``DIR/notes.json``
    ``[{"section": "evaluation" | "physiology" | "stimuli" | "training" | "general", "text": str}, ...]`` —
    visible "not built / left out" notes, shown in their section (unknown sections go under "general").

Outputs: ``DIR/report.html`` (figures embedded as base64 PNG; all text escaped) and ``DIR/figures/*.png|svg``.
"""

from preattentive.report.build import build_sections, write_report  # noqa: E402
from preattentive.report.html import FigureItem, Section, TableItem, render_page  # noqa: E402

__all__ = ["FigureItem", "Section", "TableItem", "build_sections", "render_page", "write_report"]
