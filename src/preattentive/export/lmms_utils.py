"""lmms-eval task functions for a preattentive export (copied as ``utils.py`` into every exported task folder).

lmms-eval loads this file from the folder of the task YAML (``!function utils.doc_to_text`` ...). It needs nothing
of preattentive: answers are scored by ``preattentive_parsing.py`` beside it, a verbatim copy of
``preattentive.evaluation.parsing`` from the version that exported the folder (its SHA-256 is in
``manifest.json``), so ``lmms-eval`` and ``preattentive eval`` score the same output the same way.

A document is one Parquet row: ``image`` (decoded to PIL by ``datasets``), ``prompt`` (the trial's question and
choices, filled into the export's template by ``preattentive.evaluation.format_question``), ``choices``,
``answer`` and ``label`` (the index of the correct choice).
"""

import importlib.util
import os
import sys

_PARSER_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preattentive_parsing.py")
_PARSER_NAME = "preattentive_parsing_export"


def _load_parser():
    if _PARSER_NAME in sys.modules:
        return sys.modules[_PARSER_NAME]
    if not os.path.isfile(_PARSER_FILE):  # imported from inside the package (not an export): the original
        from preattentive.evaluation import parsing

        return parsing
    spec = importlib.util.spec_from_file_location(_PARSER_NAME, _PARSER_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PARSER_NAME] = module  # registered first: its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


parse_answer = _load_parser().parse_answer


def doc_to_visual(doc):
    """The trial's image as a one-element list of RGB PIL images."""
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """``pre_prompt`` + the exported prompt + ``post_prompt`` (both empty by default, as in preattentive eval)."""
    kwargs = lmms_eval_specific_kwargs or {}
    return f"{kwargs.get('pre_prompt', '')}{doc['prompt']}{kwargs.get('post_prompt', '')}"


def doc_to_target(doc):
    """The correct choice, as text."""
    return doc["answer"]


def process_results(doc, results):
    """``acc``: the parsed answer is the correct choice; ``unparsed``: no parser rule could pick a choice."""
    parsed = parse_answer(results[0] if results else "", list(doc["choices"]))
    return {"acc": float(parsed.index == int(doc["label"])), "unparsed": float(parsed.index < 0)}
