"""`suites list`, `configs list|show`, `--json` on every list command, and packaged configs by name or path."""

import json

import pytest
from typer.testing import CliRunner

from preattentive import stimuli
from preattentive.cli import app
from preattentive.configs import list_configs, read_config, resolve_config
from preattentive.evaluation import list_suites, load_suite
from preattentive.stimuli.base import ParamError


def run(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def test_suites_list_counts_families_rungs_and_trials():
    code, out = run("suites", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list_suites()
    for r in rows:
        blocks = load_suite(r["name"]).blocks()
        assert r["blocks"] == len(blocks) and r["trials"] == sum(b.n for b in blocks)
        assert sum(len(f["levels"]) for f in r["families"]) == len(blocks)
    serial = next(r for r in rows if r["name"] == "serial")
    assert {"family": "curve-tracing-v1", "params": {"style": "dashed"}, "levels": [0, 1, 2, 3, 4],
            "n": 200} in serial["families"]
    code, table = run("suites", "list")
    assert code == 0 and "quick" in table and f"{next(r for r in rows if r['name'] == 'quick')['trials']}" in table


def test_every_list_command_prints_json():
    code, out = run("stimuli", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == stimuli.list()
    code, out = run("configs", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == list_configs()
    assert all(r["description"] for r in rows)


def test_configs_show_prints_the_packaged_yaml_and_rejects_unknown_names():
    code, out = run("configs", "show", "s1_curve_tracing")
    assert code == 0 and out == resolve_config("s1_curve_tracing").read_text()
    code, out = run("configs", "show", "../pyproject")
    assert code == 2 and "unknown config" in out and "s1_curve_tracing" in out


def test_configs_resolve_by_packaged_name_or_by_path(tmp_path):
    assert {"demo", "bottleneck", "s1_curve_tracing", "s5_maze_path"} <= set(list_configs())
    assert resolve_config("demo") == resolve_config("demo.yaml")
    assert read_config("s1_curve_tracing")["task"] == "curve-tracing"
    mine = tmp_path / "demo"  # a file in the working directory wins over the packaged name
    mine.write_text("seed: 5\n")
    assert read_config(mine) == {"seed": 5}
    with pytest.raises(ParamError, match="'configs/demo.yaml' does not exist: expected a YAML file or a packaged "
                                         "config \\(bottleneck, demo"):
        resolve_config("configs/demo.yaml")


def test_demo_default_config_is_the_packaged_yaml():
    from preattentive.studies.demo import DemoConfig

    packaged = read_config("demo")
    cfg = DemoConfig.preset()
    assert cfg == DemoConfig.preset(path=resolve_config("demo"))
    assert cfg.net_steps == packaged["net_steps"] and cfg.clip_preset == packaged["clip_preset"]


def test_compare_takes_a_packaged_config_name():
    code, out = run("compare", "--config", "nope", "--out", "x")
    assert code == 2 and "config 'nope' does not exist" in out and "s5_maze" in out
