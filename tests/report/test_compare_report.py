"""A compare study's page: accuracy against test iterations, one panel per test condition."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from preattentive.report import write_report
from preattentive.report.compare import iterations_figure, sections


def _table() -> pd.DataFrame:
    rows = []
    for cond, accs in (("9x9", (0.99, 1.0)), ("13x13", (0.6, 0.95))):
        for t, a in zip((20, 40), accs):
            rows.append({"model": "recall-16", "n_params": 19440, "train_steps": 10, "train_cpu_s": 1.0,
                         "condition": cond, "test_steps": t, "n": 100, "accuracy": a, "ci_low": a - 0.05,
                         "ci_high": min(1.0, a + 0.05)})
        rows.append({"model": "recall-16-ff", "n_params": 9, "train_steps": 10, "train_cpu_s": 1.0, "condition": cond,
                     "test_steps": 1, "n": 100, "accuracy": 0.4, "ci_low": 0.3, "ci_high": 0.5})
    return pd.DataFrame(rows)


def test_iterations_figure_draws_a_line_per_recurrent_net_and_a_level_per_feedforward_net():
    fig = iterations_figure(_table())
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["9x9 (n = 100)", "13x13 (n = 100)"]
    ax = axes[1]
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and list(ln.get_xdata()) != [0, 1]]
    assert any(list(ln.get_ydata()) == [0.6, 0.95] for ln in lines)  # recall-16 over 20 and 40 iterations
    assert any(ln.get_linestyle() == "--" and ln.get_ydata()[0] == 0.4 for ln in ax.get_lines())  # feedforward
    with pytest.raises(ValueError, match="empty comparison table"):
        iterations_figure(_table().iloc[:0])


def test_compare_directory_gets_its_section_and_page(tmp_path):
    assert sections(tmp_path) == []
    _table().to_parquet(tmp_path / "results.parquet")
    (tmp_path / "compare.json").write_text(json.dumps({"task": "maze-path", "params": {"cells": 5}, "size": 16,
                                                       "budget_minutes": 12, "clock": "cpu"}))
    (sec,) = sections(tmp_path)
    assert sec.title == "Training comparison" and "12 cpu-minutes" in sec.text
    page = write_report(tmp_path, svg=False)
    html = page.read_text()
    assert "Training comparison" in html and (tmp_path / "figures" / "compare_iterations.png").is_file()
    assert (tmp_path / "tables" / "compare.csv").is_file()
    assert "In-silico physiology" not in html  # a compare-only directory does not claim a missing physiology stage
