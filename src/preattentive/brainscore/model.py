"""``PreattentiveBrainModel``: a ``brainscore_vision.model_interface.BrainModel`` over any harness model.

Needs the optional extra: ``pip install "preattentive[brainscore]"`` (brainscore-vision >= 2.4; its pins —
numpy < 2, scikit-learn < 1.6 — are why it is not a core dependency). The commitments (regions -> layers, time
bins -> steps, visual degrees) are documented in :mod:`preattentive.brainscore.subject`.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from brainscore_core.supported_data_standards.brainio.assemblies import BehavioralAssembly, NeuroidAssembly
from brainscore_vision.model_interface import BrainModel

from preattentive.brainscore.subject import REGIONS, Subject

VISUAL_DEGREES = 8  # the whole image spans 8 degrees: Brain-Score's default commitment (ModelCommitment)


class PreattentiveBrainModel(BrainModel):
    """Any model ``preattentive.evaluation.load_model`` loads, as a Brain-Score subject.

    Parameters
    ----------
    model : a spec (``run:DIR``, ``hf-clip:DIR``, ``hf-llava:DIR``, a preset) or a loaded ``Adapter``.
    identifier : the model's Brain-Score identifier (default: the spec).
    visual_degrees : degrees the whole input image spans.
    **subject_options : :class:`~preattentive.brainscore.subject.Subject` options (``region_layers``,
        ``onset_ms``, ``step_ms``, ``image_size``, ``label_template``, ``probe_layer``, ``probe_step``, ``probe_C``).

    Example
    -------
    >>> model = PreattentiveBrainModel("run:runs/blt")  # doctest: +SKIP
    >>> model.start_recording("V1", [(45, 75), (75, 105), (105, 135)])  # doctest: +SKIP
    >>> model.look_at(stimulus_set).dims  # doctest: +SKIP
    ('presentation', 'neuroid', 'time_bin')
    """

    def __init__(self, model: Any, *, identifier: str | None = None, visual_degrees: int = VISUAL_DEGREES,
                 **subject_options: Any) -> None:
        self.subject = Subject(model, **subject_options)
        self._identifier = identifier or self.subject.identifier
        self._visual_degrees = visual_degrees
        self._task: str | None = BrainModel.Task.passive
        self._choice_labels: Sequence[str] | None = None
        self._region: str | None = None
        self._time_bins: list[tuple[float, float]] | None = None

    @property
    def identifier(self) -> str:
        return self._identifier

    def visual_degrees(self) -> int:
        return self._visual_degrees

    def start_task(self, task: str, fitting_stimuli: Any = None) -> None:
        """``passive`` (record), ``label`` (``fitting_stimuli`` = the label list) or ``probabilities``
        (``fitting_stimuli`` = a StimulusSet with ``image_label``: the linear probe is fitted on it)."""
        if task == BrainModel.Task.label:
            self.subject.labels([], fitting_stimuli)  # validates the label list now, not at look_at
            self._choice_labels = list(fitting_stimuli)
        elif task == BrainModel.Task.probabilities:
            if fitting_stimuli is None or "image_label" not in getattr(fitting_stimuli, "columns", ()):
                raise ValueError("probabilities task: expected fitting_stimuli, a StimulusSet with an 'image_label' "
                                 "column")
            self.subject.fit(self.subject.images(_paths(fitting_stimuli)), fitting_stimuli["image_label"].values)
        elif task != BrainModel.Task.passive:
            raise ValueError(f"task {task!r}: expected passive, label or probabilities")
        self._task = task

    def start_recording(self, recording_target: str, time_bins: Sequence[Sequence[float]]) -> None:
        if recording_target not in REGIONS:
            raise ValueError(f"recording target {recording_target!r}: expected one of {', '.join(REGIONS)}")
        self._region = recording_target
        self._time_bins = _time_bins(time_bins)
        self._task = BrainModel.Task.passive

    def look_at(self, stimuli: Any, number_of_trials: int = 1, require_variance: bool = False):
        """Labels, probabilities or recordings of ``stimuli`` (a StimulusSet or a list of image paths).
        The models are deterministic: ``number_of_trials`` repeats would be identical and are not simulated."""
        paths = _paths(stimuli)
        images = self.subject.images(paths)
        presentation = _presentation(stimuli, paths)
        if self._task == BrainModel.Task.label:
            labels, raw = self.subject.labels(images, self._choice_labels)
            coords = {**presentation, "label": ("presentation", labels), "raw": ("presentation", raw)}
            return BehavioralAssembly([labels], coords=coords, dims=["choice", "presentation"])
        if self._task == BrainModel.Task.probabilities:
            p = self.subject.probabilities(images)
            return BehavioralAssembly(p, coords={**presentation, "choice": list(self.subject.classes)},
                                      dims=["presentation", "choice"])
        if self._region is None:
            raise ValueError("nothing to return: call start_task(...) or start_recording(region, time_bins) first")
        data, neuroids, layer = self.subject.responses(images, self._region, self._time_bins)
        n_neuroids = data.shape[1]
        coords = {**presentation,
                  **{k: ("neuroid", v) for k, v in neuroids.items()},
                  "layer": ("neuroid", [layer] * n_neuroids), "region": ("neuroid", [self._region] * n_neuroids),
                  "model": ("neuroid", [self.identifier] * n_neuroids),
                  "time_bin_start": ("time_bin", [a for a, _ in self._time_bins]),
                  "time_bin_end": ("time_bin", [b for _, b in self._time_bins])}
        assembly = NeuroidAssembly(data, coords=coords, dims=["presentation", "neuroid", "time_bin"])
        if len(self._time_bins) == 1:  # "the model may choose to omit this dimension" (BrainModel docs)
            assembly = assembly.squeeze("time_bin")
        return assembly


def _time_bins(time_bins: Sequence[Any]) -> list[tuple[float, float]]:
    """(start, end) ms pairs from what benchmarks pass: tuples, lists, or 0-d object arrays holding a tuple
    (``assembly['time_bin'].values`` of a single-bin assembly)."""
    out = []
    for b in time_bins:
        if isinstance(b, np.ndarray) and b.ndim == 0:
            b = b.item()
        start, end = (float(v) for v in b)
        out.append((start, end))
    return out


def _paths(stimuli: Any) -> list[str]:
    if hasattr(stimuli, "get_stimulus"):
        return [str(stimuli.get_stimulus(i)) for i in stimuli["stimulus_id"].values]
    if isinstance(stimuli, (str, os.PathLike)):
        raise ValueError(f"stimuli {str(stimuli)!r}: expected a StimulusSet or a list of image paths")
    return [str(p) for p in stimuli]


def _presentation(stimuli: Any, paths: list[str]) -> dict[str, tuple[str, Any]]:
    """The presentation coordinates: every StimulusSet column (``stimulus_id`` included), or the paths."""
    if hasattr(stimuli, "get_stimulus"):
        coords = {c: ("presentation", np.asarray(stimuli[c].values)) for c in stimuli.columns}
        coords.setdefault("stimulus_path", ("presentation", np.asarray(paths)))
        return coords
    return {"stimulus_id": ("presentation", np.asarray(paths)), "stimulus_path": ("presentation", np.asarray(paths))}


__all__ = ["PreattentiveBrainModel", "VISUAL_DEGREES"]
