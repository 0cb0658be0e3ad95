"""The Brain-Score commitments without Brain-Score: regions -> layers, time bins -> steps, labels, readouts."""

import numpy as np
import pytest

from preattentive.brainscore import Subject, bin_weights, commit_regions, step_spans
from preattentive.brainscore.subject import ONSET_MS, STEP_MS


def test_regions_follow_relative_depth_and_overrides_are_checked():
    layers = [f"l{i}" for i in range(7)]
    assert commit_regions(layers) == {"V1": "l0", "V2": "l2", "V4": "l4", "IT": "l6"}
    assert commit_regions(["only"]) == dict.fromkeys(("V1", "V2", "V4", "IT"), "only")
    assert commit_regions(layers, {"IT": "l5"})["IT"] == "l5"
    with pytest.raises(ValueError, match="layer 'nope' for V4: expected one of l0"):
        commit_regions(layers, {"V4": "nope"})
    with pytest.raises(ValueError, match="region 'MT'"):
        commit_regions(layers, {"MT": "l1"})


def test_time_bins_map_to_the_steps_they_cover():
    spans = step_spans(3)
    assert spans.tolist() == [[45, 75], [75, 105], [105, 135]]  # ONSET_MS = 45, STEP_MS = 30
    np.testing.assert_allclose(bin_weights(spans, 3), np.eye(3))  # a bin per step reads that step
    np.testing.assert_allclose(bin_weights([(45, 105)], 3), [[1, 1, 0]])  # two steps, equally
    np.testing.assert_allclose(bin_weights([(60, 75)], 3), [[0.5, 0, 0]])  # half of step 1
    np.testing.assert_allclose(bin_weights([(0, 40), (200, 300)], 3), [[1, 0, 0], [0, 0, 1]])  # nearest step
    np.testing.assert_allclose(bin_weights([(70, 170), (0, 10)], 1), [[1], [1]])  # feedforward: one step
    with pytest.raises(ValueError, match="end > start"):
        bin_weights([(100, 50)], 3)


def test_recurrent_responses_are_the_recorded_steps(blt_run):
    from preattentive import physiology

    subject = Subject(blt_run)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    rec = physiology.record_net(subject.adapter.model, np.stack(images))
    layer = commit_regions(rec.layers)["V1"]
    n_steps = len(rec.steps(layer))
    assert n_steps > 1  # BLT unrolls over time
    bins = [tuple(s) for s in step_spans(n_steps)]
    data, coords, got_layer = subject.responses(images, "V1", bins)
    assert got_layer == layer and data.shape[0] == 3 and data.shape[2] == n_steps
    for k, step in enumerate(rec.steps(layer)):  # bin k is step k+1, flattened (channel, y, x)
        np.testing.assert_allclose(data[:, :, k], rec[(layer, step)].reshape(3, -1), rtol=1e-6)
    assert len(set(coords["neuroid_id"])) == data.shape[1]
    both, _, _ = subject.responses(images, "V1", [(ONSET_MS, ONSET_MS + 2 * STEP_MS)])
    np.testing.assert_allclose(both[:, :, 0], (data[:, :, 0] + data[:, :, 1]) / 2, rtol=1e-5)
    it, _, it_layer = subject.responses(images, "IT", [(70, 170)])
    assert it_layer == rec.layers[-1] != layer


def test_feedforward_net_gives_every_bin_the_same_response(cnn_run):
    subject = Subject(cnn_run)
    images = [np.full((32, 32, 3), v, np.uint8) for v in (0, 90, 255)]
    data, _, _ = subject.responses(images, "V4", [(50, 100), (100, 150), (150, 200)])
    assert data.shape[2] == 3
    np.testing.assert_array_equal(data[:, :, 0], data[:, :, 2])


def test_labels_use_the_nets_readout_and_check_the_label_count(cnn_run):
    subject = Subject(cnn_run)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(5)]
    labels, raw = subject.labels(images, ["no", "yes"])
    expected = np.argmax(subject.adapter.classify(images, None), 1)  # the adapter's own logits
    assert labels == [["no", "yes"][k] for k in expected] and len(raw) == 5
    with pytest.raises(ValueError, match="2 outputs but the trials have \\[3\\] choices"):
        subject.labels(images, ["a", "b", "c"])
    with pytest.raises(ValueError, match="explicit list"):
        subject.labels(images, "imagenet")


def test_probabilities_readout_separates_colours_and_a_shuffled_control_is_at_chance(cnn_run, colour_files):
    subject = Subject(cnn_run)
    (fit_paths, fit_labels), (test_paths, test_labels) = colour_files["fit"], colour_files["test"]
    fit_images, test_images = subject.images(fit_paths), subject.images(test_paths)
    assert fit_images[0].shape == (32, 32, 3)  # resized to the net's input side
    subject.fit(fit_images, fit_labels)
    p = subject.probabilities(test_images)
    assert subject.classes == ["red", "blue"] and p.shape == (16, 2)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    assert np.mean(np.array(subject.classes)[p.argmax(1)] == np.array(test_labels)) == 1.0
    # control: labels shuffled against the images -> nothing to learn -> held-out accuracy near chance
    shuffled = list(np.random.default_rng(0).permutation(fit_labels))
    subject.fit(fit_images, shuffled)
    acc = np.mean(np.array(subject.classes)[subject.probabilities(test_images).argmax(1)] == np.array(test_labels))
    assert 0.15 <= acc <= 0.85
    with pytest.raises(ValueError, match="1 distinct image_label"):
        subject.fit(fit_images, ["red"] * len(fit_images))


def test_clip_records_its_tower_and_labels_by_zero_shot(tmp_path):
    from preattentive.models.clip import build_clip

    build_clip("clip-micro", texts=["a photo of a red square", "a photo of a blue square"], seed=0).save(tmp_path)
    subject = Subject(f"hf-clip:{tmp_path}")
    images = [np.full((64, 64, 3), c, np.uint8) for c in ((200, 30, 30), (30, 30, 200))]
    data, coords, layer = subject.responses(images, "V1", [(70, 170)])
    assert layer == "embeddings" and data.shape[:2] == (2, len(coords["neuroid_id"]))
    labels, _ = subject.labels(images, ["red square", "blue square"])
    prompts = [subject.label_template.format(label=x) for x in ("red square", "blue square")]
    expected = [("red square", "blue square")[int(np.argmax(p))] for p in subject.adapter.zero_shot(images,
                                                                                                 [prompts] * 2)]
    assert labels == expected


def test_llava_labels_by_generation_and_has_no_recordable_layers(tmp_path):
    from preattentive.models.clip import build_clip
    from preattentive.models.llava import build_llava

    texts = ["what is shown in the image ?", "red blue square"]
    build_llava("llava-micro", vision=build_clip("clip-micro", texts=texts, seed=0), texts=texts, seed=0).save(tmp_path)
    subject = Subject(f"hf-llava:{tmp_path}")
    images = [np.full((64, 64, 3), c, np.uint8) for c in ((200, 30, 30), (30, 30, 200))]
    labels, raw = subject.labels(images, ["red", "blue"])
    assert len(labels) == 2 and set(labels) <= {"red", "blue", ""}  # "" = an answer no parser rule maps
    from preattentive.evaluation import parse_answer

    assert labels == [(["red", "blue"][k] if k >= 0 else "") for k in (parse_answer(r, ["red", "blue"]).index
                                                                        for r in raw)]
    with pytest.raises(ValueError, match="no recordable layers; expected a kind with a recorder"):
        subject.responses(images, "V1", [(70, 170)])
