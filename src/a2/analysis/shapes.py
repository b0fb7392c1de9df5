"""The networks' layers and shapes against handout Fig. 4 (questions
4.1, 5.1 and 5.4).

:func:`shape_table` records every layer's output shape on a real forward
pass; :func:`figure_shapes` gives the shapes the handout prescribes for
each block, so a section can check one against the other
(:func:`check_blocks`) and print both (:func:`shape_rows`).
:func:`source_listing` shows the library's own code for a network.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from a2.analysis import probe
from a2.analysis.counting import conv_weights
from a2.colour.models import ConvTransposeNet
from a2.report import Md, check, code, fmt

# Handout Fig. 4: (channels, size divisor) of each block's output for a
# (BS, NIC, S, S) input; networks a, b and c share them.
FIGURE_4 = (("NF", 2), ("2NF", 4), ("NF", 2), ("NC", 1), ("NC", 1))


def header(figure: str) -> tuple[str, str, str, str]:
    """The header of a layer-by-layer table against handout Fig.
    ``figure`` (4a, 4b)."""
    return ("layer", "module", "output shape", f"handout Fig. {figure}")


def figure_shapes(
    bs: int, nf: int, nc: int, size: int = 32
) -> list[tuple[int, int, int, int]]:
    """The output shapes of blocks 1-5 that handout Fig. 4 prescribes."""
    channels = {"NF": nf, "2NF": 2 * nf, "NC": nc}
    return [(bs, channels[c], size // d, size // d) for c, d in FIGURE_4]


def figure_labels(size: int = 32) -> list[str]:
    """Fig. 4's shapes as the handout prints them, e.g. [BS, NF, 16, 16]."""
    return [f"[BS, {c}, {size // d}, {size // d}]" for c, d in FIGURE_4]


@dataclass(frozen=True)
class ShapeRow:
    name: str  # module path, e.g. block1.0
    layer: str  # what the layer does, e.g. Conv2d(1->32, k=3, s=1, p=1)
    shape: tuple[int, ...]  # output shape for the probe input
    weights: int  # elements of its weight tensors (no biases)
    block_end: bool  # the last layer of a top-level block


def describe(m: nn.Module) -> str:
    """A short, table-friendly description of a layer."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        extra = ""
        if isinstance(m, nn.ConvTranspose2d):
            extra = f", p_out={m.output_padding[0]}"
        pad = m.padding if isinstance(m.padding, str) else m.padding[0]
        return (
            f"{type(m).__name__}({m.in_channels}->{m.out_channels}, "
            f"k={m.kernel_size[0]}, s={m.stride[0]}, p={pad}{extra})"
        )
    if isinstance(m, nn.MaxPool2d):
        return f"MaxPool2d({m.kernel_size})"
    if isinstance(m, nn.Upsample):
        return f"Upsample(x{m.scale_factor:g}, {m.mode})"
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features})"
    if isinstance(m, nn.ZeroPad2d):
        left, right, top, bottom = m.padding
        return f"ZeroPad2d(l={left}, r={right}, t={top}, b={bottom})"
    return type(m).__name__


def _block_ends(model: nn.Module) -> set[str]:
    """Names of the last leaf of each top-level child."""
    ends = set()
    for name, child in model.named_children():
        sub = [n for n, m in child.named_modules() if not list(m.children())]
        ends.add(name if sub == [""] else f"{name}.{sub[-1]}")
    return ends


def shape_table(model: nn.Module, x: torch.Tensor) -> list[ShapeRow]:
    """Every leaf layer's output shape for input ``x``, in call order,
    recorded with forward hooks on a real forward pass."""
    ends, rows = _block_ends(model), []

    def record(
        name: str, m: nn.Module, _: torch.Tensor, out: torch.Tensor
    ) -> None:
        w = (
            m.weight.numel()
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
            else 0
        )
        rows.append(
            ShapeRow(name, describe(m), tuple(out.shape), w, name in ends)
        )

    probe.hooked_forward(model, x, record)
    return rows


def block_shapes(rows: Iterable[ShapeRow]) -> list[tuple[int, ...]]:
    """Output shapes of the top-level blocks (their last layers)."""
    return [r.shape for r in rows if r.block_end]


def check_blocks(
    net: nn.Module, nf: int, nc: int, figure: str, name: str = ""
) -> list[ShapeRow]:
    """4.1, 5.1, 5.4: ``net``'s layers on a real forward pass of a
    (2, 1, 32, 32) batch, checked: each block's output has the shape of
    handout Fig. ``figure`` (4a, 4b), and the layers' weights add up to
    the network's."""
    rows = shape_table(net, torch.zeros(2, 1, 32, 32))
    name = name or type(net).__name__
    check(
        f"{name}: each block's output has the shape of handout Fig. {figure}",
        block_shapes(rows),
        figure_shapes(2, nf, nc),
    )
    check(
        f"{name}: its weights are those of the table's convolutions",
        conv_weights(net),
        sum(r.weights for r in rows),
    )
    return rows


def check_handout_settings(net: nn.Module) -> None:
    """5.1: with kernel 3, ConvTransposeNet's layers are the handout's:
    Conv2d with stride 2 and padding 1, ConvTranspose2d with stride 2,
    padding 1, output_padding 1 and dilation 1 (other kernels: 5.4)."""
    down, up = [net.block1[0], net.block2[0]], [net.block3[0], net.block4[0]]
    if down[0].kernel_size[0] != 3:
        return
    check(
        "kernel 3: the convolutions have stride 2 and padding 1",
        [(c.stride[0], c.padding[0]) for c in down],
        [(2, 1)] * 2,
    )
    check(
        "kernel 3: the transposed convolutions have stride 2, padding 1, "
        "output padding 1 and dilation 1",
        [
            (c.stride[0], c.padding[0], c.output_padding[0], c.dilation[0])
            for c in up
        ],
        [(2, 1, 1, 1)] * 2,
    )


@dataclass(frozen=True)
class FinalBlock:
    """5.4: block 5 of ConvTransposeNet, for the prose: its layers and
    output shape per image."""

    pad: Md
    conv: Md
    shape: Md


def final_block(kernel: int, nc: int) -> FinalBlock:
    """ConvTransposeNet's last block with an even ``kernel``: the zero
    padding it needs, then the convolution (from a forward pass)."""
    rows = shape_table(
        ConvTransposeNet(kernel, 8, nc), torch.zeros(1, 1, 32, 32)
    )
    pad, conv = [r for r in rows if r.name.startswith("block5")]
    return FinalBlock(
        Md(code(pad.layer)), Md(code(conv.layer)), fmt(list(conv.shape[1:]))
    )


def shape_rows(
    rows: Sequence[ShapeRow], size: int = 32
) -> list[tuple[str, str, str, str]]:
    """Rows for ``a2.report.table(rows, header(figure))``: a block's last
    layer
    carries the shape handout Fig. 4 gives for the block."""
    labels, out = iter(figure_labels(size)), []
    for r in rows:
        shape = "[" + ", ".join(["BS", *map(str, r.shape[1:])]) + "]"
        # The handout gives a shape after each block only.
        fig = next(labels, "") if r.block_end else "inside a block"
        # "3.0": block 3's first layer (the captions say so); the short
        # name leaves the module column room on one line.
        name = r.name.removeprefix("block")
        out.append((f"`{name}`", f"`{r.layer}`", shape, fig))
    return out


def helpers(*objs: Any) -> list[Any]:
    """The library functions that ``objs``' code calls by name and that
    are not among ``objs``: a listing says what each computes."""
    import ast

    shown = {o.__name__ for o in objs}
    found: dict[str, Any] = {}
    for o in objs:
        names = vars(inspect.getmodule(o))
        tree = ast.parse(textwrap.dedent(inspect.getsource(o)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                f = names.get(node.func.id)
                if (
                    inspect.isfunction(f)
                    and f.__module__.startswith("a2.")
                    and f.__name__ not in shown
                ):
                    found.setdefault(f.__name__, f)
    return list(found.values())


# What each padding helper of the networks computes, in the reader's
# terms ($k$ the kernel, $s$ the stride, $d$ the dilation): a listing
# says so below its code (Section 5.4 derives the formulas).
HELPER_WORDS = {
    "conv_padding": (
        "the padding $p$ with which a convolution divides the height and "
        "width by its stride $s$. It is the smallest $p$ with "
        "$d(k-1) + 1 - s \\le 2p \\le d(k-1)$: $(k-1)/2$ at stride 1 "
        "(an even $k$ is refused) and $\\lfloor (k-1)/2 \\rfloor$ at "
        "stride 2"
    ),
    "transpose_padding": (
        "the padding $p$ and output padding $p_{\\text{out}}$ with which a "
        "transposed convolution multiplies the height and width by its "
        "stride $s$. They solve $2p - p_{\\text{out}} = d(k-1) + 1 - s$ "
        "with the smallest $p \\ge 0$ and "
        "$0 \\le p_{\\text{out}} < \\max(s, d)$"
    ),
    "same_padding": (
        "the zeros before and after that keep the size in a stride-1 "
        "convolution: $\\lfloor (k-1)/2 \\rfloor$ before and "
        "$\\lfloor k/2 \\rfloor$ after, $k - 1$ in all"
    ),
}


def _helper_note(f: Any) -> str:
    """A helper's name and what it computes, for the sentence under a
    listing (its docstring's first sentence where no words are given)."""
    words = HELPER_WORDS.get(f.__name__)
    if words is None:
        words = inspect.getdoc(f).split("\n\n")[0].replace("\n", " ")
        words = words.replace("``", "`")
    return f"`{f.__name__}` gives {words}"


def source_listing(*objs: Any) -> str:
    """Library source as a Markdown ``python`` code block (the report
    shows the code that runs, not a copy), followed by a sentence that
    says what each library helper it calls computes."""
    # One code block per definition, each read on its own.
    listing = "\n\n".join(
        "```python\n"
        + textwrap.dedent(inspect.getsource(o)).rstrip()
        + "\n```"
        for o in objs
    )
    notes = [_helper_note(f) for f in helpers(*objs)]
    terms = "Below, $k$ is the kernel size, $s$ the stride, $d$ the dilation."
    parts = [listing]
    if len(notes) == 1:
        parts.append(
            f"One function that the listing calls is not shown. {terms} "
            f"{notes[0][0].upper()}{notes[0][1:]}."
        )
    elif notes:
        items = "\n".join(f"- {n}." for n in notes)
        count = NUMBER_WORDS.get(len(notes), str(len(notes)))
        parts.append(
            f"{count} functions that the listing calls are not shown. "
            f"{terms}\n\n{items}"
        )
    parts += [FLAG_WORDS[o.__name__] for o in objs if o.__name__ in FLAG_WORDS]
    return "\n\n".join(parts)


NUMBER_WORDS = {2: "Two", 3: "Three", 4: "Four"}

# A class attribute that a listing shows but whose use it does not: one
# sentence says what turns it on and what that changes.
FLAG_WORDS = {
    "ConvTransposeNet": (
        "ConvTransposeNet's skip connections are switched off (the "
        "class attribute skips). UNet (handout Fig. 4c) is this network "
        "with them on. Its own forward pass joins the "
        "output of block 1 and the input image to the inputs of blocks 4 "
        "and 5, which are widened to take them."
    ),
}
