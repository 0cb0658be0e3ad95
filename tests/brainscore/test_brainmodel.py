"""PreattentiveBrainModel against the real brainscore_vision package (skipped where it is not installed: it pins
numpy < 2, so it lives in its own virtualenv: `pip install torch==2.13.0 "preattentive[brainscore,dev]"`,
`pip uninstall torchvision` (PyPI's torchvision is built for CUDA torch and fails to import on the CPU build;
nothing used here needs it), then `python -m pytest tests/brainscore` there)."""

import numpy as np
import pandas as pd
import pytest

brainscore_vision = pytest.importorskip("brainscore_vision")

from brainscore_core import Score  # noqa: E402
from brainscore_core.supported_data_standards.brainio.assemblies import (BehavioralAssembly,  # noqa: E402
                                                                         NeuroidAssembly)
from brainscore_core.supported_data_standards.brainio.stimuli import StimulusSet  # noqa: E402
from brainscore_vision.model_interface import BrainModel  # noqa: E402

from preattentive.brainscore import PreattentiveBrainModel  # noqa: E402
from preattentive.brainscore.subject import step_spans  # noqa: E402


def stimulus_set(paths, labels, identifier):
    s = StimulusSet(pd.DataFrame({"stimulus_id": [f"{identifier}-{i}" for i in range(len(paths))],
                                  "image_label": labels, "object_name": labels}))  # Brain-Score stratifies by it
    s.stimulus_paths = dict(zip(s["stimulus_id"], paths))
    s.identifier = identifier
    return s


def test_is_a_brain_model_with_the_interface_methods(blt_run):
    model = PreattentiveBrainModel(blt_run, identifier="blt-30k-random")
    assert isinstance(model, BrainModel)
    assert model.identifier == "blt-30k-random" and model.visual_degrees() == 8
    with pytest.raises(ValueError, match="recording target 'MT'"):
        model.start_recording("MT", [(70, 170)])
    with pytest.raises(ValueError, match="task 'odd_one_out'"):
        model.start_task(BrainModel.Task.odd_one_out)


def test_recording_has_presentation_neuroid_and_time_bin_dims(blt_run, colour_files):
    paths, labels = colour_files["test"]
    stim = stimulus_set(paths, labels, "colours-test")
    model = PreattentiveBrainModel(blt_run)
    bins = [tuple(b) for b in step_spans(3)]
    model.start_recording(BrainModel.RecordingTarget.V1, bins)
    a = model.look_at(stim)
    assert isinstance(a, NeuroidAssembly) and set(a.dims) == {"presentation", "neuroid", "time_bin"}
    assert list(a["stimulus_id"].values) == list(stim["stimulus_id"])
    assert list(a["image_label"].values) == labels  # every StimulusSet column is a presentation coordinate
    assert list(a["time_bin_start"].values) == [45, 75, 105] and a.sizes["time_bin"] == 3
    assert len(set(a["neuroid_id"].values)) == a.sizes["neuroid"] and set(a["region"].values) == {"V1"}
    steps = a.transpose("presentation", "neuroid", "time_bin").values
    assert not np.allclose(steps[..., 0], steps[..., 2])  # a recurrent net's response changes over steps
    model.start_recording("IT", [(70, 170)])
    single = model.look_at(paths)  # a list of paths works too; one bin: the time_bin dimension is dropped
    assert "time_bin" not in single.dims and single.sizes["presentation"] == len(paths)


def test_behaviour_label_and_probabilities(cnn_run, colour_files):
    (fit_paths, fit_labels), (test_paths, test_labels) = colour_files["fit"], colour_files["test"]
    model = PreattentiveBrainModel(cnn_run)
    model.start_task(BrainModel.Task.label, ["no", "yes"])
    choices = model.look_at(stimulus_set(test_paths, test_labels, "colours-test"))
    assert isinstance(choices, BehavioralAssembly) and choices.dims == ("choice", "presentation")
    assert set(choices.values.ravel()) <= {"no", "yes"}
    model.start_task(BrainModel.Task.probabilities, stimulus_set(fit_paths, fit_labels, "colours-fit"))
    p = model.look_at(stimulus_set(test_paths, test_labels, "colours-test"))
    assert isinstance(p, BehavioralAssembly) and p.dims == ("presentation", "choice")
    assert list(p["choice"].values) == ["red", "blue"]
    predicted = p["choice"].values[p.values.argmax(1)]
    assert (predicted == np.array(test_labels)).all()  # colour is linearly readable: known by construction


def _synthetic_neural(model, stim, region, *, informative, seed=0):
    """Target 'neurons': random mixtures of the model's own responses plus noise (informative) or pure noise
    (control). A real Brain-Score NeuralBenchmark then scores the model against them."""
    model.start_recording(region, [(70, 170)])
    own = model.look_at(stim).transpose("presentation", "neuroid").values
    rng = np.random.default_rng(seed)
    if informative:
        target = own @ rng.normal(size=(own.shape[1], 12)) / np.sqrt(own.shape[1])
        target += 0.1 * target.std() * rng.normal(size=target.shape)
    else:
        target = rng.normal(size=(own.shape[0], 12))
    a = NeuroidAssembly(target[:, :, None], dims=["presentation", "neuroid", "time_bin"], coords={
        "stimulus_id": ("presentation", stim["stimulus_id"].values),
        "image_label": ("presentation", stim["image_label"].values),
        "object_name": ("presentation", stim["object_name"].values),
        "neuroid_id": ("neuroid", [f"n{i}" for i in range(12)]), "region": ("neuroid", [region] * 12),
        "time_bin_start": ("time_bin", [70]), "time_bin_end": ("time_bin", [170])})
    a = a.squeeze("time_bin")  # as Brain-Score's own loaders give single-bin assemblies
    a.attrs["stimulus_set"] = stim
    return a


def test_a_real_neural_benchmark_scores_the_wrapper(cnn_run, colour_files):
    from brainscore_vision import load_metric
    from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark

    paths = colour_files["fit"][0] + colour_files["test"][0]
    labels = colour_files["fit"][1] + colour_files["test"][1]
    stim = stimulus_set(paths, labels, "colours-all")
    model = PreattentiveBrainModel(cnn_run)
    scores = {}
    for informative in (True, False):
        target = _synthetic_neural(model, stim, "IT", informative=informative)
        bench = NeuralBenchmark(identifier=f"synthetic-{informative}", assembly=target,
                                similarity_metric=load_metric("ridge", crossvalidation_kwargs={"splits": 4}),
                                visual_degrees=8, number_of_trials=1, ceiling_func=lambda: Score(1.0),
                                parent="IT", version=1)
        scores[informative] = float(bench(model).values)
    assert scores[True] > 0.7 and scores[False] < 0.3, scores  # the control: noise cannot be predicted
