"""Brain-Score: any harness model as a ``brainscore_vision`` ``BrainModel`` (optional extra ``[brainscore]``).

:class:`PreattentiveBrainModel` (needs ``brainscore_vision``) wraps the models ``preattentive.evaluation``
loads — ``run:DIR`` nets (recurrent ones report one response per time bin, mapped to their steps),
``hf-clip:DIR``, ``hf-llava:DIR`` (labels only) — with the commitments of :mod:`preattentive.brainscore.subject`,
which is importable without Brain-Score.

Example
-------
>>> from preattentive.brainscore import PreattentiveBrainModel  # doctest: +SKIP
>>> model = PreattentiveBrainModel("run:runs/blt-fg", identifier="blt-30k-fg")  # doctest: +SKIP
>>> model.start_task("label", ["figure", "ground"])  # doctest: +SKIP
"""

from typing import Any

from preattentive.brainscore.subject import (REGIONS, Subject, bin_weights, commit_regions, load_images,
                                             step_spans)


def __getattr__(name: str) -> Any:  # lazy: brainscore_vision only when the BrainModel is asked for
    if name in ("PreattentiveBrainModel", "VISUAL_DEGREES"):
        try:
            from preattentive.brainscore import model
        except ImportError as e:
            raise ImportError(f"{name} needs brainscore_vision ({e.name} is missing): pip install "
                              "'preattentive[brainscore]'") from e
        return getattr(model, name)
    raise AttributeError(name)


__all__ = ["PreattentiveBrainModel", "REGIONS", "Subject", "VISUAL_DEGREES", "bin_weights", "commit_regions",
           "load_images", "step_spans"]
