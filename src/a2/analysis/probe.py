"""Looking inside a network without changing it (sections 4 and 5).

One helper puts a network in eval mode without gradients and restores its
mode afterwards (:func:`evaluating`); one runs a forward pass with hooks
on chosen layers (:func:`hooked_forward`). The shape tables
(``a2.analysis.shapes``), the counts of weights, connections and MACs
(``a2.analysis.counting``) and the colour statistics
(``a2.analysis.colourstats``) all go through these two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

# hook(name, module, input tensor, output tensor)
Hook = Callable[[str, nn.Module, torch.Tensor, torch.Tensor], None]


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (BatchNorm uses its running statistics) and no
    gradients inside the block; the model's own mode is restored after,
    even on an error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every layer without children, in definition
    order, e.g. ``("block1.0", Conv2d(...))``."""
    return [
        (n, m)
        for n, m in model.named_modules()
        if n and not list(m.children())
    ]


def hooked_forward(
    model: nn.Module,
    x: torch.Tensor,
    hook: Hook,
    layers: Sequence[tuple[str, nn.Module]] | None = None,
) -> torch.Tensor:
    """``model(x)`` in eval mode with ``hook`` called after each of
    ``layers`` (default: every leaf) runs, in call order; the hooks are
    removed afterwards."""

    def wrap(name: str) -> Callable:
        def call(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            hook(name, m, inputs[0], out)

        return call

    chosen = leaves(model) if layers is None else layers
    handles = [m.register_forward_hook(wrap(n)) for n, m in chosen]
    try:
        with evaluating(model):
            return model(x)
    finally:
        for h in handles:
            h.remove()
