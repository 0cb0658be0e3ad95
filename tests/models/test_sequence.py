"""The mLSTM parallel form equals the step-by-step recurrence; the Vision-LSTM scans in both directions."""

import pytest
import torch

from preattentive.models.sequence import MLSTMBlock, mlstm_parallel, mlstm_recurrent


@pytest.mark.parametrize("gate_scale", [0.1, 3.0, 20.0])  # 20: input gates up to e^60, the stabiliser must hold
def test_parallel_scan_equals_sequential_reference(gate_scale):
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 29, 8, generator=g, dtype=torch.float64).unbind(0)
    i_pre, f_pre = (gate_scale * torch.randn(2, 2, 3, 29, generator=g, dtype=torch.float64)).unbind(0)
    par, seq = mlstm_parallel(q, k, v, i_pre, f_pre), mlstm_recurrent(q, k, v, i_pre, f_pre)
    assert torch.isfinite(par).all()
    torch.testing.assert_close(par, seq, rtol=1e-9, atol=1e-9)


def test_parallel_scan_float32_and_gradients():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 2, 2, 64, 6, generator=g).unbind(0)
    i_pre, f_pre = torch.randn(2, 2, 2, 64, generator=g).unbind(0)
    q.requires_grad_(True)
    out = mlstm_parallel(q, k, v, i_pre, f_pre)
    torch.testing.assert_close(out, mlstm_recurrent(q, k, v, i_pre, f_pre), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


@pytest.mark.parametrize("reverse", [False, True])
def test_block_is_causal_in_its_scan_direction(reverse):
    """A forward block's token t depends only on tokens <= t; a reverse block only on tokens >= t."""
    torch.manual_seed(0)
    blk = MLSTMBlock(dim=8, heads=2, expand=2, conv_kernel=4, reverse=reverse).eval()
    x = torch.randn(1, 10, 8)
    y = x.clone()
    y[:, 5] += torch.randn(8)  # perturb token 5 (not by a constant: LayerNorm would remove it)
    with torch.no_grad():
        a, b = blk(x), blk(y)
    changed = (a - b).abs().amax(-1)[0] > 1e-6  # (10,)
    if reverse:
        assert changed[:6].all() and not changed[6:].any()
    else:
        assert not changed[:5].any() and changed[5:].all()
