"""Room: studies — end-to-end studies that tie the rooms together (only calls, no library logic).

- :mod:`preattentive.studies.demo` — ``preattentive demo``: suite, nets, CLIP, LLaVA, evaluation, physiology, report.
- :mod:`preattentive.studies.compare` — ``preattentive compare``: several nets trained on one task under one budget.
- :mod:`preattentive.studies.bottleneck` — ``preattentive bottleneck``: accuracy vs image-token budget (claim S7).
"""
