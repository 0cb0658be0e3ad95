"""Humans on the very same trials: a backward-masked rapid-presentation experiment in the browser, and its rows.

``export`` writes an offline jsPsych page showing a suite's trials (the harness's trial keys) for chosen durations
followed by a mask, or without a time limit; ``responses`` reads the downloaded CSV/JSON back into the evaluation
schema (``model = human:<participant>`` and ``human:pooled``, ``method = masked-<ms>`` / ``unlimited``), so people and
models share psychometric panels and paired tests; ``simulate`` answers an exported experiment with a model, as a
synthetic participant.

Example
-------
>>> from preattentive.human import export_experiment, import_responses
>>> export_experiment("quick", "exp", n=4, conditions="50,unlimited", families=["maze"])  # doctest: +SKIP
>>> import_responses(["preattentive-....csv"], "study")  # doctest: +SKIP
"""

from preattentive.human.design import Condition, Design, DesignError, parse_conditions, plan_experiment
from preattentive.human.export import export_experiment, load_manifest

__all__ = ["Condition", "Design", "DesignError", "export_experiment", "load_manifest", "parse_conditions",
           "plan_experiment"]
