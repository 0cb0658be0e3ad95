"""The LLaVA-style token-budget net and the bottleneck study's plumbing."""

import dataclasses

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from preattentive.models import load_net, make_net, save_net
from preattentive.report.bottleneck import accuracy_vs_tokens_figure
from preattentive.stimuli.base import ParamError
from preattentive.studies.bottleneck import BottleneckConfig


def _net(tokens, mode, **kw):
    torch.manual_seed(0)
    return make_net(f"budget-{tokens}-{mode}", num_classes=3, image_size=32, num_queries=4, dim=24, heads=2,
                    depth=2, reader_depth=1, **kw)


@pytest.mark.parametrize("tokens,side", [(64, 8), (16, 4), (4, 2)])
def test_patch_tokens_pool_to_the_budget(tokens, side):
    out = _net(tokens, "late")(torch.rand(2, 3, 32, 32), query=torch.tensor([0, 3]))
    assert out.logits.shape == (2, 3) and out.step_logits.shape == (1, 2, 3)
    assert out.states[0]["block2"].shape == (2, 24, 8, 8)  # the encoder keeps the full patch grid
    assert out.states[0]["tokens"].shape == (2, 24, side, side)


def test_late_encoder_ignores_the_question_and_film_encoder_uses_it():
    x = torch.rand(1, 3, 32, 32).repeat(2, 1, 1, 1)
    q = torch.tensor([0, 2])
    late = _net(16, "late")(x, query=q)
    assert torch.equal(late.states[0]["tokens"][0], late.states[0]["tokens"][1])  # question-independent
    assert not torch.allclose(late.logits[0], late.logits[1])  # ...but the reader reads the question
    film_net = _net(16, "film")
    with torch.no_grad():  # FiLM starts as the identity; give it a question-dependent gain
        for lin in film_net.cond.maps.values():
            lin.weight.normal_(0, 0.5)
    film = film_net(x, query=q)
    assert not torch.allclose(film.states[0]["tokens"][0], film.states[0]["tokens"][1])


def test_bad_budget_is_a_one_line_error_and_save_load_round_trips(tmp_path):
    with pytest.raises(ParamError, match="square number"):
        make_net("budget-16-late", image_size=32, tokens=10)
    small = make_net("budget-64-late", image_size=16, patch=4)  # a 4 x 4 grid: the budget keeps all 16 tokens
    assert small(torch.rand(1, 3, 16, 16), query=torch.tensor([0])).states[0]["tokens"].shape[-2:] == (4, 4)
    net = _net(4, "film")
    save_net(net, tmp_path / "m")
    back = load_net(tmp_path / "m")
    x, q = torch.rand(3, 3, 32, 32), torch.tensor([1, 2, 3])
    assert torch.equal(net.eval()(x, query=q).logits, back.eval()(x, query=q).logits)


def test_config_yaml_mirrors_the_defaults_and_rejects_unknown_keys(tmp_path):
    from preattentive.configs import resolve_config

    yaml_path = resolve_config("bottleneck")  # the packaged copy
    assert BottleneckConfig.load(yaml_path) == BottleneckConfig()
    with pytest.raises(ParamError, match="budget"):
        BottleneckConfig.load(None, budget=[4])
    with pytest.raises(ParamError, match="conditioning"):
        BottleneckConfig(conditionings=("early",))


def test_accuracy_vs_tokens_figure_has_one_line_per_conditioning():
    t = pd.DataFrame({"task": ["counting"] * 4, "tokens": [16, 4, 16, 4],
                      "conditioning": ["late", "late", "film", "film"],
                      "accuracy": [0.6, 0.4, 0.7, 0.6], "ci_lo": [0.5, 0.3, 0.6, 0.5], "ci_hi": [0.7, 0.5, 0.8, 0.7],
                      "chance": [1 / 6] * 4})
    fig = accuracy_vs_tokens_figure(t)
    assert isinstance(fig, Figure)
    labels = [x.get_text() for x in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == 3 and any("question-conditioned" in s for s in labels)


@pytest.mark.slow
def test_tiny_bottleneck_study_end_to_end(tmp_path):
    from preattentive.studies.bottleneck import run_bottleneck

    cfg = dataclasses.replace(BottleneckConfig(), budgets=(16, 4), steps=2, minutes=0.2, batch_size=8, eval_n=8, train_n=16,
                              tasks={"counting": {"level": 2, "params": {"query": "mixed", "n_max": 6}}})
    result = run_bottleneck(cfg, tmp_path / "bn", log=lambda s: None)
    assert len(result.table) == 4 and set(result.table.tokens) == {16, 4}
    assert result.table.n.eq(8).all() and result.figure.is_file()
    assert (tmp_path / "bn" / "bottleneck.csv").is_file() and result.report.is_file()
