"""Exports into the tools researchers already use: lmms-eval task folders (:mod:`preattentive.export.lmms`).

Example
-------
>>> from preattentive.export import export_lmms_eval
>>> export_lmms_eval("quick", "lmms_tasks", n=16).group  # doctest: +SKIP
'preattentive_quick'
"""

from preattentive.export.lmms import LmmsExport, export_lmms_eval, export_schema, task_name

__all__ = ["LmmsExport", "export_lmms_eval", "export_schema", "task_name"]
