"""The validation layer itself: checked dataclasses, file readers, records and preflight checks (one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

import pytest

from preattentive.config_schema import (ConfigError, RunRecord, Seed, check_types, check_value, from_mapping,
                                        read_json, read_record, read_yaml)
from preattentive.preflight import check_device, check_new_out, check_safetensors, check_threads, confined


@dataclass(frozen=True)
class Toy:
    name: str
    steps: int = 10  # optimiser steps
    lr: float = 1e-3
    tags: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: Seed = 0
    data: str | None = None

    def __post_init__(self) -> None:
        check_types(self)
        if self.steps < 1:
            raise ValueError(f"steps={self.steps}: expected an integer >= 1")


def test_fields_are_checked_and_coerced_on_construction(tmp_path):
    t = Toy(name="a", lr="2e-3", tags=["x", "y"], data=tmp_path)  # YAML's string floats, JSON lists, Paths
    assert (t.lr, t.tags, t.data) == (0.002, ("x", "y"), str(tmp_path))
    for kw, words in [({"steps": "abc"}, "steps='abc': expected an integer"),
                      ({"steps": 2.5}, "steps=2.5: expected an integer (no fractional part)"),
                      ({"steps": True}, "steps=True: expected an integer, not true/false"),
                      ({"tags": 5}, "tags=5: expected a list"), ({"params": [1]}, "params=[1]: expected a mapping"),
                      ({"seed": -1}, "seed=-1: expected an integer in [0, 4294967295]"),
                      ({"name": 5}, "name=5: expected a string")]:
        with pytest.raises(ConfigError) as e:
            Toy(**{"name": "a", **kw})
        assert str(e.value) == words or str(e.value).startswith(words), str(e.value)
        assert "\n" not in str(e.value)


def test_from_mapping_names_the_file_the_key_and_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"^s\.yaml: unknown Toy option 'bogus'; expected one of: data, lr, name"):
        from_mapping(Toy, {"name": "a", "bogus": 1}, source="s.yaml")
    with pytest.raises(ConfigError, match=r"^s\.yaml: 'name' is required"):
        from_mapping(Toy, {}, source="s.yaml")
    with pytest.raises(ConfigError, match=r"^s\.yaml: expected a mapping of Toy settings \(key: value\), got list"):
        from_mapping(Toy, [1], source="s.yaml")
    with pytest.raises(ConfigError, match=r"^s\.yaml: steps=0: expected an integer >= 1"):
        from_mapping(Toy, {"name": "a", "steps": 0}, source="s.yaml")
    with pytest.raises(ConfigError, match=r"^steps=0: expected"):  # a flag's value is not the file's
        from_mapping(Toy, {"name": "a", "steps": 0}, source="s.yaml", overrides=("steps",))


def test_readers_give_line_and_column(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: [1\nb: 2\n")
    with pytest.raises(ConfigError, match=r"x\.yaml: not valid YAML at line 2 column 2"):
        read_yaml(p)
    p.write_text("")
    assert read_yaml(p) == {}
    j = tmp_path / "r.json"
    j.write_text('{"a": 1,}')
    with pytest.raises(ConfigError, match=r"r\.json: not valid JSON at line 1 column 9"):
        read_json(j)
    with pytest.raises(ConfigError, match="does not exist"):
        read_yaml(tmp_path / "nope.yaml")


def test_run_record_is_checked_and_its_model_dir_stays_inside_the_run(tmp_path):
    f = tmp_path / "run.json"
    f.write_text(json.dumps({"kind": "supervised", "model_dir": "model", "steps": 3, "extra": "kept"}))
    assert read_record(f, RunRecord, what="run record")["extra"] == "kept"
    for bad, words in [({"kind": "supervised", "model_dir": "../../etc"}, "model_dir='../../etc': expected a path"),
                       ({"kind": "supervised", "steps": "many"}, "steps='many': expected an integer"),
                       ({"kind": 3}, "kind=3: expected a string")]:
        f.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=rf"run\.json: {words[:20]}"):
            read_record(f, RunRecord, what="run record")


def test_preflight_checks(tmp_path):
    assert check_device("cpu") == "cpu" and check_device(None) is None
    with pytest.raises(ConfigError, match="device='tpu': expected cpu, cuda, cuda:N or mps"):
        check_device("tpu")
    with pytest.raises(ConfigError, match="device='cuda:99'"):
        check_device("cuda:99")
    with pytest.raises(ConfigError, match="threads=0: expected an integer >= 1"):
        check_threads(0)
    assert confined(tmp_path, "a", "1-len6") == tmp_path / "a" / "1-len6"
    for part in ("../x", "..", "a/b", ""):
        with pytest.raises(ConfigError, match="expected a plain name"):
            confined(tmp_path, part)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"already exists and is not empty \(holds 'f.txt'\)"):
        check_new_out(tmp_path / "full")
    check_new_out(tmp_path / "absent")
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ConfigError, match=r"w\.safetensors: not a readable safetensors file"):
        check_safetensors(bad)


def test_check_value_for_function_arguments():
    assert check_value(Seed, 7, "seed") == 7
    with pytest.raises(ConfigError, match=r"seed=99999999999999999999: expected an integer in \[0, 4294967295\]"):
        check_value(Seed, 99999999999999999999, "seed")


def test_python_api_fails_before_writing(tmp_path):
    from preattentive.studies.compare import CompareConfig
    from preattentive.training import TrainConfig
    from preattentive.training.clip import train_clip

    with pytest.raises(ValueError, match=r"lr=-1.0: expected > 0"):
        train_clip(preset="clip-micro", lr=-1, out=tmp_path / "c")
    with pytest.raises(ValueError, match="threads=0"):
        train_clip(preset="clip-micro", threads=0, out=tmp_path / "c")
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="lr='abc': expected a number"):
        TrainConfig(model="cnn-30k", task="maze", steps=2, lr="abc")
    with pytest.raises(ValueError, match="params size=48 conflicts with size=32"):
        TrainConfig(model="cnn-30k", task="maze", steps=2, params={"size": 48})
    with pytest.raises(ValueError, match="curriculum stage name '../x'"):
        CompareConfig.from_dict({"models": "cnn-30k", "task": "maze", "budget_steps": 1,
                                 "curriculum": [{"name": "../x", "budget_steps": 1}]})


def test_the_stimuli_and_datasets_rooms_still_do_not_import_torch():
    code = ("import sys, preattentive.config_schema, preattentive.preflight, preattentive.stimuli, "
            "preattentive.datasets.parquet; print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
