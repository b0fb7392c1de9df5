"""The one helper for eval mode and forward hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from a2.analysis import probe


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2),
        nn.Sequential(nn.ReLU(), nn.Conv2d(2, 1, 1)),
    )


@pytest.mark.parametrize("mode", [True, False])
def test_evaluating_restores_the_mode_and_turns_off_gradients(mode):
    net = _net().train(mode)
    with probe.evaluating(net):
        assert not net.training and not torch.is_grad_enabled()
        assert not net[1].training
    assert net.training == mode and net[1].training == mode
    assert torch.is_grad_enabled()


def test_evaluating_restores_the_mode_after_an_error():
    net = _net().train()
    with pytest.raises(RuntimeError):
        with probe.evaluating(net):
            raise RuntimeError("boom")
    assert net.training


def test_evaluating_keeps_batchnorm_statistics():
    net = _net().train()
    before = net[1].running_mean.clone()
    with probe.evaluating(net):
        net(torch.randn(4, 1, 8, 8) + 5)
    assert torch.equal(net[1].running_mean, before)


def test_hooked_forward_sees_every_leaf_in_call_order_then_unhooks():
    net = _net()
    seen = []
    out = probe.hooked_forward(
        net,
        torch.zeros(1, 1, 8, 8),
        lambda name, m, x, y: seen.append((name, tuple(y.shape))),
    )
    assert [n for n, _ in seen] == ["0", "1", "2.0", "2.1"]
    assert seen[-1][1] == tuple(out.shape) == (1, 1, 8, 8)
    assert not any(m._forward_hooks for m in net.modules())


def test_hooked_forward_on_chosen_layers_gets_their_inputs():
    net = _net()
    got = []
    probe.hooked_forward(
        net,
        torch.zeros(3, 1, 8, 8),
        lambda name, m, x, y: got.append(x.shape),
        [("conv", net[0])],
    )
    assert got == [torch.Size([3, 1, 8, 8])]
