"""What the Brain-Score wrapper commits to, computed without Brain-Score: regions -> layers, time bins -> steps,
labels, probabilities and recordings of any model the evaluation harness loads.

Commitments (fixed rules, not fitted: Brain-Score's own ``ModelCommitment`` picks layers by scoring them on its
public benchmarks, whose data cannot be fetched here):

* **Region -> layer, by relative depth.** With the model's recordable layers in processing order
  ``L[0] .. L[n-1]``: V1 -> ``L[0]``, V2 -> ``L[round((n-1)/3)]``, V4 -> ``L[round(2(n-1)/3)]``,
  IT -> ``L[n-1]`` (the ventral stream's order, Felleman & Van Essen 1991). ``region_layers={"V4": "layers.2"}``
  overrides any of them.
* **Time bin -> step.** Step ``t`` (1 = the feedforward sweep) covers ``[onset + (t-1) step, onset + t step)`` ms,
  with ``onset = 45`` ms and ``step = 30`` ms: V1's visual response starts ~45 ms after stimulus onset and
  figure-ground modulation ~30 ms later (Poort et al. 2012, Neuron), the delay of one recurrent round. A bin's
  response is the overlap-weighted mean of the steps it covers (Brain-Score's ``portion`` alignment); a bin
  before step 1 reads step 1, a bin after the last step reads the last (the state holds). A feedforward model has
  one step, so every bin gets the same response. The same latencies are used for every region.
* **Stimuli** are read from their files and resized to the model's input side (a CLIP's processor resizes
  itself); the whole image spans ``visual_degrees`` (8, Brain-Score's default commitment).

Example
-------
>>> commit_regions(["conv1", "conv2", "conv3", "conv4"])
{'V1': 'conv1', 'V2': 'conv2', 'V4': 'conv3', 'IT': 'conv4'}
>>> bin_weights([(70, 170)], n_steps=4).round(3).tolist()
[[0.167, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

REGIONS = ("V1", "V2", "V4", "IT")
DEPTH = {"V1": 0.0, "V2": 1 / 3, "V4": 2 / 3, "IT": 1.0}  # relative depth of each region's layer
ONSET_MS = 45.0  # ms, V1 response onset (Poort et al. 2012)
STEP_MS = 30.0  # ms per recurrent step: figure-ground modulation lags the onset by ~30 ms (Poort et al. 2012)
# CLIP's prompt for a class name (Radford et al. 2021, "A photo of a {label}.")
LABEL_TEMPLATE = "a photo of a {label}."
LABEL_QUESTION = "What is shown in the image?"  # LLaVA's question; the labels are its choices


def commit_regions(layers: Sequence[str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each Brain-Score region's layer by relative depth, with ``overrides`` applied (names checked)."""
    layers = list(layers)
    if not layers:
        raise ValueError("the model has no recordable layers; expected at least one")
    out = {r: layers[int(round(DEPTH[r] * (len(layers) - 1)))] for r in REGIONS}
    for region, layer in (overrides or {}).items():
        if region not in REGIONS:
            raise ValueError(f"region {region!r}: expected one of {', '.join(REGIONS)}")
        if layer not in layers:
            raise ValueError(f"layer {layer!r} for {region}: expected one of {', '.join(layers)}")
        out[region] = layer
    return out


def step_spans(n_steps: int, *, onset_ms: float = ONSET_MS, step_ms: float = STEP_MS) -> np.ndarray:
    """``(n_steps, 2)`` start / end in ms of each step (step 1 first)."""
    t = np.arange(n_steps, dtype=float)
    return np.stack([onset_ms + t * step_ms, onset_ms + (t + 1) * step_ms], axis=1)


def bin_weights(time_bins: Sequence[Sequence[float]], n_steps: int, *, onset_ms: float = ONSET_MS,
                step_ms: float = STEP_MS) -> np.ndarray:
    """``(n_bins, n_steps)`` weights: the fraction of each step's span inside each bin (rows sum to > 0).

    A bin that overlaps no step reads the nearest one: step 1 before the onset, the last step after the end.
    """
    bins = np.asarray([[float(a), float(b)] for a, b in time_bins], dtype=float).reshape(-1, 2)
    if len(bins) == 0 or (bins[:, 1] <= bins[:, 0]).any():
        raise ValueError(f"time_bins {list(map(tuple, bins.tolist()))}: expected (start, end) ms pairs with "
                         "end > start")
    if n_steps < 1:
        raise ValueError(f"n_steps={n_steps}: expected >= 1")
    if n_steps == 1:
        return np.ones((len(bins), 1))
    spans = step_spans(n_steps, onset_ms=onset_ms, step_ms=step_ms)
    overlap = np.clip(np.minimum(bins[:, 1:2], spans[:, 1]) - np.maximum(bins[:, 0:1], spans[:, 0]), 0, None)
    w = overlap / step_ms  # (n_bins, n_steps)
    for i in np.flatnonzero(w.sum(1) == 0):
        w[i, 0 if bins[i, 1] <= spans[0, 0] else n_steps - 1] = 1.0
    return w


def load_images(paths: Sequence[str | os.PathLike], size: int | None = None) -> list[np.ndarray]:
    """RGB uint8 ``(H, W, 3)`` images from files, resized (area interpolation) to ``size`` x ``size`` px."""
    import cv2

    out = []
    for p in paths:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)  # grey images come back as 3 equal channels
        if bgr is None:
            raise ValueError(f"stimulus {str(p)!r}: not a readable image file")
        if size is not None and bgr.shape[:2] != (size, size):
            bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(bgr[..., ::-1]))
    return out


@dataclass(frozen=True)
class _Stimulus:
    """A stimulus dressed as a trial, so that the harness's methods can answer it."""

    image: np.ndarray
    choices: tuple[str, ...]
    prompts: tuple[str, ...]
    question: str = LABEL_QUESTION
    meta: dict[str, Any] = field(default_factory=dict)


class Subject:
    """Any harness model as an experimental subject: labels, probabilities and recordings, as numpy.

    Parameters
    ----------
    model : a spec (``run:DIR``, ``hf-clip:DIR``, ``hf-llava:DIR``, a preset) or a loaded ``Adapter``.
    region_layers : overrides of the depth commitment, e.g. ``{"IT": "layers.3"}``.
    onset_ms, step_ms : the time-bin -> step commitment (module docstring).
    image_size : px side stimuli are resized to (default: the model's own input side when it has one).
    label_template : CLIP's prompt for a label; probe_layer / probe_step / probe_C : the probabilities readout.
    """

    def __init__(self, model: Any, *, region_layers: Mapping[str, str] | None = None, onset_ms: float = ONSET_MS,
                 step_ms: float = STEP_MS, image_size: int | None = None, label_template: str = LABEL_TEMPLATE,
                 probe_layer: str | None = None, probe_step: int | None = None, probe_C: float = 1.0,
                 batch_size: int = 32, device: str = "cpu") -> None:
        from preattentive.evaluation import Adapter, load_model

        self.adapter = model if isinstance(model, Adapter) else load_model(model, device=device)
        self.region_overrides = dict(region_layers or {})
        self.onset_ms, self.step_ms = float(onset_ms), float(step_ms)
        if self.step_ms <= 0:
            raise ValueError(f"step_ms={step_ms}: expected > 0")
        self.image_size = image_size if image_size is not None else _input_size(self.adapter)
        self.label_template = label_template
        self.probe_layer, self.probe_step, self.probe_C = probe_layer, probe_step, float(probe_C)
        self.batch_size = int(batch_size)
        self._readout: Any = None
        self.classes: list[str] = []

    @property
    def identifier(self) -> str:
        return self.adapter.name

    # ----------------------------------------------------------------------------------------- recordings
    def record(self, images: Sequence[np.ndarray]):
        """Every recordable layer at every time step (a :class:`preattentive.physiology.Recording`)."""
        from preattentive import physiology
        from preattentive.models.kinds import kind_for_scheme, resolve

        kind = self.adapter.kind
        if kind == "net":  # the harness's steps setting travels with the adapter
            return physiology.record_net(self.adapter.model, np.stack(images), steps=getattr(self.adapter, "steps",
                                         None), batch_size=self.batch_size, model=self.identifier)
        recorder = kind_for_scheme(kind).recorder  # the model-kind registry names each kind's recorder
        if not recorder:
            raise ValueError(f"model {self.identifier!r} ({kind}): no recordable layers; expected a kind with a "
                             "recorder (preattentive models list)")
        return resolve(recorder)(self.adapter.model, list(images), batch_size=self.batch_size, model=self.identifier)

    def responses(self, images: Sequence[np.ndarray], region: str, time_bins: Sequence[Sequence[float]]
                  ) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
        """``(N, neuroids, bins)`` responses of ``region``'s committed layer, its neuroid coordinates, the layer."""
        if region not in REGIONS:
            raise ValueError(f"region {region!r}: expected one of {', '.join(REGIONS)}")
        rec = self.record(images)
        layer = commit_regions(rec.layers, self.region_overrides)[region]
        steps = rec.steps(layer)
        maps = np.stack([rec[(layer, s)] for s in steps])  # (T, N, C, h, w)
        t, n, c, h, w = maps.shape
        w_bins = bin_weights(time_bins, t, onset_ms=self.onset_ms, step_ms=self.step_ms)  # (bins, T)
        flat = maps.reshape(t, n, c * h * w)
        data = np.einsum("bt,tnd->ndb", w_bins / w_bins.sum(1, keepdims=True), flat).astype(np.float32)
        ch, yy, xx = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
        coords = {"channel": ch.ravel(), "channel_y": yy.ravel(), "channel_x": xx.ravel()}
        coords["neuroid_id"] = np.array([f"{layer}.{a}.{b}.{d}" for a, b, d in
                                         zip(coords["channel"], coords["channel_y"], coords["channel_x"])])
        return data, coords, layer

    # ----------------------------------------------------------------------------------------- behaviour
    def labels(self, images: Sequence[np.ndarray], choice_labels: Sequence[str]) -> tuple[list[str], list[str]]:
        """One label per image through the harness's own method for the model (zero-shot for CLIP, generative
        for LLaVA, the trained readout for nets); also the raw outputs. An unparseable answer gives ``""``."""
        from preattentive.evaluation import METHODS

        if isinstance(choice_labels, str):
            raise ValueError(f"choice labels {choice_labels!r}: expected an explicit list of label strings (an "
                             "ImageNet readout needs a 1000-way ImageNet head, which no preattentive model has)")
        labels = tuple(str(x) for x in choice_labels)
        if len(labels) < 2:
            raise ValueError(f"choice labels {list(labels)}: expected at least 2")
        prompts = tuple(self.label_template.format(label=x) for x in labels)
        method = METHODS[self.adapter.auto_method]
        out_labels, raw = [], []
        for s in range(0, len(images), self.batch_size):
            trials = [_Stimulus(im, labels, prompts) for im in images[s:s + self.batch_size]]
            for o in method.run(self.adapter, trials, **method.options()):
                out_labels.append(labels[o.prediction] if o.prediction >= 0 else "")
                raw.append(o.raw)
        return out_labels, raw

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[Any]) -> None:
        """Fit the probabilities readout on ``labels`` of ``images``: the linear probe's classifier (standardised
        L2 logistic regression, Alain & Bengio 2016) on the harness's frozen features."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        y = [str(v) for v in labels]
        self.classes = list(dict.fromkeys(y))  # order of first appearance, as Brain-Score's readout
        if len(self.classes) < 2:
            raise ValueError(f"fitting stimuli have {len(self.classes)} distinct image_label values; expected >= 2")
        x = self.features(images)
        self._readout = make_pipeline(StandardScaler(), LogisticRegression(C=self.probe_C, max_iter=2000)).fit(x, y)

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, classes)`` readout probabilities, columns in :attr:`classes` order."""
        if self._readout is None:
            raise ValueError("no readout fitted: call start_task('probabilities', fitting_stimuli) first")
        p = self._readout.predict_proba(self.features(images))
        order = [list(self._readout.classes_).index(c) for c in self.classes]
        return p[:, order]

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from preattentive.evaluation.methods import probe_features

        trials = [_Stimulus(im, (), ()) for im in images]
        return probe_features(self.adapter, trials, layer=self.probe_layer, step=self.probe_step,
                              batch_size=self.batch_size)

    def images(self, paths: Sequence[str | os.PathLike]) -> list[np.ndarray]:
        return load_images(paths, self.image_size)


def _input_size(adapter: Any) -> int | None:
    """The model's input side in px when it has one (a net's ``config.image_size``, a CLIP's ``image_size``)."""
    model = adapter.model
    size = getattr(getattr(model, "config", None), "image_size", None) if adapter.kind == "net" else \
        getattr(model, "image_size", None)
    return int(size) if isinstance(size, (int, np.integer)) else None


__all__ = ["DEPTH", "LABEL_QUESTION", "LABEL_TEMPLATE", "ONSET_MS", "REGIONS", "STEP_MS", "Subject", "bin_weights",
           "commit_regions", "load_images", "step_spans"]
