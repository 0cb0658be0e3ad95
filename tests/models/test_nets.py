"""Every registered vision net: shapes, steps, save/load, config hygiene, learning, query conditioning."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from preattentive.models import NetOutput, count_params, flops_per_image, list_nets, load_net, make_net, save_net
from preattentive.models.base import net_spec
from preattentive.stimuli.base import ParamError

SIZE = 16  # px: tiny, every net accepts it
NETS = list_nets()
torch.set_num_threads(1)


def _net(id: str, **kw):
    torch.manual_seed(0)
    return make_net(id, num_classes=3, image_size=SIZE, **kw)


def _batch(b: int = 2, size: int = SIZE):
    g = torch.Generator().manual_seed(1)
    return torch.rand(b, 3, size, size, generator=g), torch.arange(b) % 2


def _conditioned(net) -> bool:
    return net.config.conditioning != "none"


def test_registry_has_every_family():
    names = {i.split("-")[0] for i in NETS}
    assert {"cnn", "vit", "hgru", "blt", "recall", "rvit", "vlstm"} <= names
    assert len(NETS) == len(set(NETS))


@pytest.mark.parametrize("id", NETS)
def test_forward_backward_shapes(id):
    net = _net(id)
    x, q = _batch()
    out = net(x, query=q if _conditioned(net) else None)
    t = net.default_steps if net.recurrent else 1
    assert isinstance(out, NetOutput)
    assert out.logits.shape == (2, 3) and out.step_logits.shape == (t, 2, 3)
    assert torch.equal(out.logits, out.step_logits[-1])
    assert len(out.states) == t and out.steps == t
    for step in out.states:
        assert step, "no recorded layers"
        for name, m in step.items():
            assert m.ndim == 4 and m.shape[0] == 2, (name, m.shape)
    assert list(out.states[0]) == list(out.states[-1])  # the same layers at every step
    out.step_logits.float().pow(2).mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("id", [i for i in NETS if net_spec(i).cls.recurrent])
def test_more_steps_at_test_time(id):
    net = _net(id).eval()
    x, q = _batch()
    q = q if _conditioned(net) else None
    t = net.default_steps
    with torch.no_grad():
        short, long = net(x, query=q, steps=t), net(x, query=q, steps=t + 3)
    assert long.step_logits.shape[0] == t + 3 and len(long.states) == t + 3
    torch.testing.assert_close(long.step_logits[:t], short.step_logits)  # later steps never change earlier ones
    assert torch.isfinite(long.logits).all()
    if "hidden" in inspect.signature(net.forward).parameters:  # continue from a saved state
        with torch.no_grad():
            first = net(x, query=q, steps=2)
            cont = net(x, query=q, steps=t + 1, hidden=first.hidden)
        torch.testing.assert_close(cont.logits, long.logits)


@pytest.mark.parametrize("id", NETS)
def test_save_load_identical(id, tmp_path):
    net = _net(id).eval()
    x, q = _batch()
    q = q if _conditioned(net) else None
    save_net(net, tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"config.json", "model.safetensors"}
    back = load_net(tmp_path / "m").eval()
    assert back.net_id == net.net_id == id and back.config == net.config
    with torch.no_grad():
        a, b = net(x, query=q), back(x, query=q)
    assert torch.equal(a.step_logits, b.step_logits)
    for sa, sb in zip(a.states, b.states):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("id", NETS)
def test_make_net_does_not_mutate_defaults(id):
    before = dataclasses.asdict(net_spec(id).config)
    net = make_net(id, num_classes=5, image_size=SIZE)
    assert net.config.num_classes == 5 and net.config.image_size == SIZE
    assert dataclasses.asdict(net_spec(id).config) == before
    assert dataclasses.asdict(make_net(id).config) == before


@pytest.mark.parametrize("id", NETS)
def test_runs_on_larger_images_than_built_for(id):
    """Mazes are trained at 24 px and tested at 32 px (Bansal et al. 2022): every net must accept that."""
    net = make_net(id, num_classes=2, image_size=24).eval()
    q = torch.zeros(2, dtype=torch.long) if _conditioned(net) else None
    with torch.no_grad():
        out = net(torch.rand(2, 3, 32, 32), query=q)
    assert out.logits.shape == (2, 2) and torch.isfinite(out.logits).all()


def test_bad_input_raises_value_errors():
    net = _net("cnn-30k-v1")
    with pytest.raises(ValueError, match="expected a float tensor"):
        net(torch.rand(2, 1, SIZE, SIZE))
    with pytest.raises(ValueError, match="expected float"):
        net(torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8))
    with pytest.raises(ParamError, match="unknown config field"):
        make_net("cnn-30k-v1", widthz=(4,))
    with pytest.raises(ValueError, match="unknown net"):
        make_net("nope-v1")
    with pytest.raises(ValueError, match="steps=0"):
        _net("hgru-16-v1")(_batch()[0], steps=0)
    film = _net("cnn-100k-film-v1", num_queries=2)
    with pytest.raises(ValueError, match=r"expected -1 \(none\) \.\. 1"):
        film(_batch()[0], query=torch.tensor([0, 2]))


@pytest.mark.parametrize("id", NETS)
def test_loss_falls_on_an_easy_batch(id):
    """Bright vs dark images: a few Adam steps must reduce the (all-steps) cross-entropy.

    Conditioned nets get a question-dependent version: query 1 flips the answer (label = bright XOR query), which
    no question-blind net can fit.
    """
    net = _net(id)
    g = torch.Generator().manual_seed(2)
    bright = torch.arange(8) % 2
    x = (0.25 + 0.5 * bright[:, None, None, None] + 0.1 * torch.randn(8, 3, SIZE, SIZE, generator=g)).clamp(0, 1)
    q = (torch.arange(8) // 2) % 2 if _conditioned(net) else None
    y = bright ^ q if q is not None else bright
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def loss_fn():
        sl = net(x, query=q).step_logits  # (T, B, C)
        return torch.nn.functional.cross_entropy(sl.flatten(0, 1), y.repeat(sl.shape[0]))

    first = loss_fn().item()
    for _ in range(8):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < 0.8 * first


@pytest.mark.parametrize("id", NETS)
def test_query_changes_output_only_when_conditioned(id):
    net = _net(id).eval()
    x = _batch(2)[0]
    zero, one = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
    with torch.no_grad():
        if net.config.conditioning == "film":  # FiLM maps start at zero (= late); give them weights first
            for p in net.cond.maps.parameters():
                p.normal_(0, 0.5)
        a, b = net(x, query=zero), net(x, query=one)
    if not _conditioned(net):
        assert torch.equal(a.logits, b.logits)
        return
    assert not torch.allclose(a.logits, b.logits)
    # the encoder's layers: question-independent in "late" (LLaVA-like), modulated in "film"
    changed = [k for k in a.states[0] if not torch.equal(a.states[0][k], b.states[0][k])]
    if net.config.conditioning == "late":
        assert changed == []
    else:
        assert changed, "FiLM did not reach any recorded layer"


@pytest.mark.parametrize("id", NETS)
def test_costs(id):
    net = _net(id)
    assert count_params(net) == sum(p.numel() for p in net.parameters())
    f = flops_per_image(net, SIZE)
    assert f > 2 * count_params(net) // 4  # at least the readout and one pass over most weights
    if net.recurrent:
        assert flops_per_image(net, SIZE, steps=2 * net.default_steps) > 1.5 * f


@pytest.mark.parametrize("family", ["cnn", "vit"])
def test_feedforward_presets_match_their_names(family):
    nominal = {"30k": 30e3, "100k": 100e3, "1m": 1e6}
    for size, n in nominal.items():
        p = count_params(make_net(f"{family}-{size}-v1", num_classes=2, image_size=32))
        assert 0.9 * n <= p <= 1.1 * n, (family, size, p)


@pytest.mark.parametrize("id", [i for i in NETS if i.endswith("-film-v1")])
def test_fresh_film_net_equals_its_late_twin(id):
    """FiLM maps start at zero: with the late twin's weights, a film net computes exactly the same function."""
    film = _net(id).eval()
    late = make_net(id.replace("-film-", "-late-"), num_classes=3, image_size=SIZE).eval()
    missing, unexpected = film.load_state_dict(late.state_dict(), strict=False)
    assert not unexpected and missing and all(".maps." in k for k in missing)
    x, q = _batch()
    with torch.no_grad():
        assert torch.equal(film(x, query=q).step_logits, late(x, query=q).step_logits)
        # no question (None) and -1 are the same learned "no question" code
        none, minus = film(x), film(x, query=torch.full((2,), -1))
    assert torch.equal(none.logits, minus.logits)
