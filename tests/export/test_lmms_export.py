"""The lmms-eval export, checked without lmms-eval: YAML keys, data loadable with `datasets`, utils on rows, and
the same score as `preattentive eval` for the same model outputs."""

import hashlib
import importlib.util
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import Adapter, Suite, evaluate, format_question, load_suite
from preattentive.evaluation.suites import SuiteEntry
from preattentive.export import export_lmms_eval

N = 4


class _Loader(yaml.SafeLoader):
    """Reads lmms-eval's `!function module.name` tags as ("!function", "module.name")."""


_Loader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


def read_yaml(path):
    return yaml.load(path.read_text(), Loader=_Loader)


def load_utils(folder):
    """utils.py as lmms-eval imports it: from the task folder's file, not from an installed package."""
    name = f"utils_{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stub_answer(image, prompt):
    """A deterministic 'model': its answer depends only on the pixels and the prompt (letters, words, numbers,
    and nonsense, so that every parser rule and the unparseable case occur)."""
    h = int(hashlib.sha1(np.ascontiguousarray(image).tobytes() + prompt.encode()).hexdigest(), 16)
    return ["(A)", "(B)", "yes", "No.", "There are 3.", "I cannot tell", "left", "a circle"][h % 8]


class StubVLM(Adapter):
    kind, auto_method, methods = "llava", "generative", ("generative",)

    def __init__(self):
        super().__init__(None, name="stub:vlm", fingerprint="0")

    def generate(self, images, questions, max_new_tokens=16):
        return [stub_answer(im, q) for im, q in zip(images, questions)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmms") / "tasks"
    return export_lmms_eval("quick", out, n=N)


def test_folder_is_in_lmms_eval_format(exported):
    d = exported.out
    template = read_yaml(d / "_default_template_yaml")
    assert template["dataset_path"] == "parquet" and template["test_split"] == "test"
    assert template["output_type"] == "generate_until"
    for key in ("doc_to_visual", "doc_to_text", "doc_to_target", "process_results"):
        assert template[key] == ("!function", f"utils.{key}")
    assert [m["metric"] for m in template["metric_list"]] == ["acc", "unparsed"]
    assert template["metric_list"][0] == {"metric": "acc", "aggregation": "mean", "higher_is_better": True}
    assert template["generation_kwargs"]["do_sample"] is False
    group = read_yaml(d / "preattentive_quick.yaml")
    suite_blocks = load_suite("quick").blocks(N)
    assert group["group"] == exported.group == "preattentive_quick"
    assert group["task"] == [t["task"] for t in exported.tasks] and len(group["task"]) == len(suite_blocks)
    for t in exported.tasks:
        task = read_yaml(d / f"{t['task']}.yaml")
        assert task["task"] == t["task"] and task["include"] == "_default_template_yaml"
        data = task["dataset_kwargs"]["data_files"]["test"]
        assert not data.startswith("/") and (d / data).is_file()  # relative to the YAML: the folder can move
        assert task["tag"] == t["tag"] and task["metadata"]["family"] == t["family"]
    manifest = json.loads((d / "manifest.json").read_text())
    parser = (d / "preattentive_parsing.py").read_bytes()
    from preattentive.evaluation import parsing

    assert parser == open(parsing.__file__, "rb").read()  # a verbatim copy of the documented parser
    assert manifest["parser_sha256"] == hashlib.sha256(parser).hexdigest() and manifest["suite"] == "quick"


def test_data_loads_with_datasets_and_rows_are_the_suites_trials(exported):
    datasets = pytest.importorskip("datasets")
    blocks = load_suite("quick").blocks(N)
    for t, b in zip(exported.tasks, blocks):
        ds = datasets.load_dataset("parquet", data_files={"test": str(exported.out / t["data"])})["test"]
        assert isinstance(ds.features["image"], datasets.Image) and len(ds) == N
        gen = b.generator()
        for i, row in enumerate(ds):
            trial = gen.trial(i)
            assert row["trial_key"] == b.trial_key(i)  # the key `preattentive eval` caches this trial under
            assert row["prompt"] == format_question(trial)
            np.testing.assert_array_equal(np.asarray(row["image"]), trial.image)
            assert row["label"] == trial.label and row["choices"] == list(trial.choices)


def test_utils_functions_on_rows(exported):
    datasets = pytest.importorskip("datasets")
    utils = load_utils(exported.out)
    t = exported.tasks[0]
    doc = datasets.load_dataset("parquet", data_files={"test": str(exported.out / t["data"])})["test"][0]
    visual = utils.doc_to_visual(doc)
    assert len(visual) == 1 and visual[0].mode == "RGB"
    assert utils.doc_to_text(doc) == doc["prompt"]
    assert utils.doc_to_text(doc, {"pre_prompt": "Q: ", "post_prompt": " A:"}) == f"Q: {doc['prompt']} A:"
    assert utils.doc_to_target(doc) == doc["answer"] == doc["choices"][doc["label"]]
    assert utils.process_results(doc, [doc["answer"]]) == {"acc": 1.0, "unparsed": 0.0}
    wrong = next(c for c in doc["choices"] if c != doc["answer"])
    assert utils.process_results(doc, [wrong]) == {"acc": 0.0, "unparsed": 0.0}
    letter = f"({chr(65 + doc['label'])})"
    assert utils.process_results(doc, [letter])["acc"] == 1.0
    assert utils.process_results(doc, ["I cannot tell"]) == {"acc": 0.0, "unparsed": 1.0}


def test_lmms_scores_equal_preattentive_eval_for_the_same_outputs(exported):
    datasets = pytest.importorskip("datasets")
    utils = load_utils(exported.out)
    df = evaluate(StubVLM(), "quick", method="generative", n=N, progress=False)
    ours = dict(zip(df["trial_key"], df["correct"].astype(float)))
    ours_unparsed = dict(zip(df["trial_key"], (df["prediction"] < 0).astype(float)))
    n_unparsed = 0
    for t in exported.tasks:
        for doc in datasets.load_dataset("parquet", data_files={"test": str(exported.out / t["data"])})["test"]:
            answer = stub_answer(np.asarray(utils.doc_to_visual(doc)[0]), utils.doc_to_text(doc))
            scores = utils.process_results(doc, [answer])
            assert scores["acc"] == ours[doc["trial_key"]], doc["trial_key"]
            assert scores["unparsed"] == ours_unparsed[doc["trial_key"]]
            n_unparsed += scores["unparsed"]
    assert len(ours) == exported.n_trials and 0 < n_unparsed < exported.n_trials  # both branches exercised


def test_same_export_same_bytes_and_entries_get_distinct_names(tmp_path):
    a = export_lmms_eval("serial", tmp_path / "a", n=2, families=["curve-tracing"])
    export_lmms_eval("serial", tmp_path / "b", n=2, families=["curve-tracing"])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    names = [t["task"] for t in a.tasks]
    assert "preattentive_serial_curve_tracing_v1_l0" in names
    assert "preattentive_serial_curve_tracing_v1_style_dashed_l0" in names and len(set(names)) == 10
    dup = Suite("dup", (SuiteEntry("maze", [0]), SuiteEntry("maze", [0])), n=2)
    with pytest.raises(ValueError, match="same task 'preattentive_dup_maze_v2_l0'"):
        export_lmms_eval(dup, tmp_path / "dup")
    assert not (tmp_path / "dup").exists()


def test_bad_input_is_a_one_line_error_and_nothing_is_half_written(tmp_path):
    r = CliRunner().invoke(app, ["export", "lmms-eval", "--suite", "quick", "--n", "2", "--out", str(tmp_path / "x"),
                                 "--family", "maze", "-q"])
    assert r.exit_code == 0, r.output
    assert "group preattentive_quick, 2 tasks, 4 trials" in r.output
    again = CliRunner().invoke(app, ["export", "lmms-eval", "--suite", "quick", "--out", str(tmp_path / "x")])
    assert again.exit_code == 2 and "--overwrite" in again.output and "Traceback" not in again.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = CliRunner().invoke(app, ["export", "lmms-eval", "--suite", "quick", "--out", str(mine), "--overwrite"])
    assert r.exit_code == 2 and "refusing" in r.output and (mine / "notes.txt").read_text() == "keep me"
    for args, needle in ((["--suite", "nope"], "unknown suite 'nope'"), (["--n", "0"], "--n 0"),
                         (["--template", "{answer}"], "template field {answer}")):
        r = CliRunner().invoke(app, ["export", "lmms-eval", *args, "--out", str(tmp_path / "y")])
        assert r.exit_code == 2 and needle in r.output, r.output
    assert not (tmp_path / "y").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary folder left behind


def test_llava_chat_template_reads_string_content_as_lmms_eval_passes_it(tmp_path):
    """lmms-eval's llava_hf gives the saved tokenizer `content` as one string ("<image>\\nquestion"); its chat
    variant gives the processor a list of parts. Both must make the prompt preattentive's Llava.prompt makes."""
    from transformers import AutoProcessor

    from preattentive.models.clip import build_clip
    from preattentive.models.llava import build_llava, load_llava

    texts = ["is there a red dot ?", "yes no"]
    build_llava("llava-micro", vision=build_clip("clip-micro", texts=texts, seed=0), texts=texts, seed=0).save(tmp_path)
    processor, q = AutoProcessor.from_pretrained(tmp_path), "is there a red dot ?"
    as_string = processor.tokenizer.apply_chat_template([{"role": "user", "content": f"<image>\n{q}"}],
                                                        tokenize=False, add_generation_prompt=True)
    as_parts = processor.apply_chat_template([{"role": "user", "content": [{"type": "image"},
                                                                           {"type": "text", "text": q}]}],
                                             tokenize=False, add_generation_prompt=True)
    assert as_string == as_parts == load_llava(tmp_path).prompt(q) == f"USER: <image>\n{q} ASSISTANT:"
