"""Humans on the very same trials: a backward-masked rapid-presentation experiment in the browser, and its rows.

``export`` writes an offline jsPsych page showing a suite's trials (the harness's trial keys) for chosen durations
followed by a mask, or without a time limit; ``responses`` reads the downloaded CSV/JSON back into the evaluation
schema (``model = human:<participant>`` and ``human:pooled``, ``method = masked-<ms>`` / ``unlimited``), so people and
models share psychometric panels and paired tests; ``simulate`` answers an exported experiment with a model, as a
synthetic participant (``human:synthetic-...``, ``human:pooled-synthetic``).

Example
-------
>>> from preattentive.human import export_experiment, import_responses, simulate_observers
>>> export_experiment("quick", "exp", n=4, conditions="50,unlimited", families=["maze"])  # doctest: +SKIP
>>> import_responses(["preattentive-3f2a-p01.csv"], "study")  # doctest: +SKIP
"""

from preattentive.human.design import Condition, Design, DesignError, parse_conditions, plan_experiment
from preattentive.human.export import export_experiment, load_manifest
from preattentive.human.responses import ResponseError, import_responses, read_responses, to_results
from preattentive.human.simulate import simulate_observers, summarize, trials_for_ci

__all__ = ["Condition", "Design", "DesignError", "ResponseError", "export_experiment", "import_responses",
           "load_manifest", "parse_conditions", "plan_experiment", "read_responses", "simulate_observers",
           "summarize", "to_results", "trials_for_ci"]
