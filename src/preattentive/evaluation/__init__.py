"""Room 4 — one evaluation harness for every model: specs, adapters, methods, answer parsing, suites, statistics.

Example
-------
>>> from preattentive.evaluation import evaluate, accuracy_table
>>> df = evaluate("run:runs/hgru-curve", "core", method="auto", n=200, out="study")  # doctest: +SKIP
>>> accuracy_table(df)  # doctest: +SKIP
"""

from preattentive.evaluation.adapters import (Adapter, ClipAdapter, ContrastiveAdapter, LlavaAdapter, NetAdapter,
                                              UnsupportedMethod, VisionAdapter, VlmAdapter)
from preattentive.evaluation.harness import evaluate, method_label, probe_sweep, results_path
from preattentive.evaluation.methods import METHODS, Method, Outcome, format_question, register_method
from preattentive.evaluation.parsing import Parsed, parse_answer
from preattentive.evaluation.results import (COLUMNS, accuracy_table, compare_all, compare_models, psychometric_table,
                                             read_results, write_results)
from preattentive.evaluation.specs import (ModelSpec, ModelSpecError, list_presets, load_model, parse_spec,
                                           register_preset, register_run_kind, register_scheme)
from preattentive.evaluation.stats import (McNemar, PsychometricFit, fit_psychometric, mcnemar, psychometric_curve,
                                          wilson_ci)
from preattentive.evaluation.suites import Block, Suite, SuiteError, list_suites, load_suite

__all__ = ["Adapter", "Block", "COLUMNS", "ClipAdapter", "ContrastiveAdapter", "VisionAdapter", "VlmAdapter", "LlavaAdapter", "METHODS", "McNemar", "Method", "ModelSpec",
           "ModelSpecError", "NetAdapter", "Outcome", "Parsed", "PsychometricFit", "Suite", "SuiteError",
           "UnsupportedMethod", "accuracy_table", "compare_all", "compare_models", "evaluate", "fit_psychometric",
           "format_question", "list_presets", "list_suites", "load_model", "load_suite", "mcnemar", "method_label",
           "parse_answer", "parse_spec", "probe_sweep", "psychometric_curve", "psychometric_table", "read_results", "register_method",
           "register_preset", "register_run_kind", "register_scheme", "results_path", "wilson_ci", "write_results"]
