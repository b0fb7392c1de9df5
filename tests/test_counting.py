"""Question 4.3: the closed-form counts of PoolUpsampleNet equal an
independent count of a real network."""

from __future__ import annotations

import pytest

from a2.analysis import counting
from a2.analysis.counting import formula_counts, measured_counts
from a2.colour.models import PoolUpsampleNet, build_model

TRIPLES = [(1, 32, 24), (1, 8, 24), (3, 16, 10), (2, 5, 7)]


@pytest.mark.parametrize("nic,nf,nc", [(2, 5, 7), (3, 16, 10)])
def test_formula_counts_hold_for_kernel_5(nic, nf, nc):
    net = PoolUpsampleNet(5, nf, nc, num_in_channels=nic)
    assert formula_counts(nic, nf, nc, 32, kernel=5) == measured_counts(
        net, nic, 32
    )


@pytest.mark.parametrize("nic,nf,nc", TRIPLES)
def test_weights_at_kernel_3_are_the_issues_formula(nic, nf, nc):
    expected = 9 * nic * nf + 36 * nf**2 + 9 * nf * nc + 9 * nc**2
    assert formula_counts(nic, nf, nc).weights == expected
    # Distinct primes per term: a wrong coefficient cannot cancel out.
    assert formula_counts(2, 3, 5).weights == 9 * 6 + 36 * 9 + 9 * 15 + 9 * 25


def test_doubling_the_input_keeps_weights_and_quadruples_the_rest():
    # Counted on a real network, not read off the formula's A = size^2.
    net = PoolUpsampleNet(3, 32, 24)
    small, big = measured_counts(net, 1, 32), measured_counts(net, 1, 64)
    assert big.weights == small.weights
    assert big.outputs == 4 * small.outputs
    assert big.connections == 4 * small.connections


def test_outputs_at_32_are_1600_nf_plus_1280_nc():
    for nf, nc in [(32, 24), (16, 10), (48, 3)]:
        assert formula_counts(1, nf, nc).outputs == 1600 * nf + 1280 * nc
        assert (
            formula_counts(1, nf, nc, resampling=True).outputs
            == 2240 * nf + 2304 * nc
        )


def test_connections_at_32_match_the_derived_polynomial():
    nic, nf, nc = 2, 32, 24
    conv = 9216 * nic * nf + 5760 * nf**2 + 2304 * nf * nc + 9216 * nc**2
    assert formula_counts(nic, nf, nc).connections == conv
    assert (
        formula_counts(nic, nf, nc, resampling=True).connections
        == conv + 1792 * nf + 1024 * nc
    )


def test_headline_convention_counts_convolutions_only():
    # Conv outputs: 32^2 NF + 16^2 2NF + 8^2 NF + 16^2 NC + 32^2 NC.
    nf, nc = 32, 24
    c = formula_counts(1, nf, nc)
    assert c.outputs == 1024 * nf + 512 * nf + 64 * nf + 256 * nc + 1024 * nc
    assert c.connections == 9 * (
        1024 * nf
        + 256 * 2 * nf * nf
        + 64 * nf * 2 * nf
        + 256 * nc * nf
        + 1024 * nc * nc
    )


@pytest.mark.parametrize("nic,nf,nc", TRIPLES)
@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("resampling", [False, True])
def test_formula_equals_measured_in_both_conventions(
    nic, nf, nc, size, resampling
):
    net = PoolUpsampleNet(3, nf, nc, num_in_channels=nic)
    assert formula_counts(nic, nf, nc, size, 3, resampling) == measured_counts(
        net, nic, size, resampling
    )


def test_resampling_adds_pooling_and_upsampling_units():
    nf, nc, a = 32, 24, 1024
    conv, both = (
        formula_counts(1, nf, nc),
        formula_counts(1, nf, nc, resampling=True),
    )
    assert both.weights == conv.weights
    assert both.outputs - conv.outputs == a * (5 * nf // 8 + nc)
    assert both.connections - conv.connections == a * (7 * nf // 4 + nc)


def test_count_polynomials_give_the_weight_formula_at_kernel_3():
    poly = counting.count_polynomials(32)
    assert poly["weights"] == {
        r"\mathrm{NIC}\,\mathrm{NF}": 9,
        r"\mathrm{NF}^2": 36,
        r"\mathrm{NF}\,\mathrm{NC}": 9,
        r"\mathrm{NC}^2": 9,
    }
    assert counting.count_polynomials(64)["outputs"] == {
        r"\mathrm{NF}": 6400,
        r"\mathrm{NC}": 5120,
    }
    alt = counting.count_polynomials(64, resampling=True)
    assert alt["outputs"] == {r"\mathrm{NF}": 8960, r"\mathrm{NC}": 9216}


@pytest.mark.parametrize("size", [32, 64])
def test_polynomials_evaluate_to_the_closed_form(size):
    poly = counting.count_polynomials(size, 5)
    for nic, nf, nc in TRIPLES:
        f = formula_counts(nic, nf, nc, size, 5)
        assert [
            counting.evaluate_polynomial(poly[n], nic, nf, nc)
            for n in counting.COUNTS
        ] == [f.weights, f.outputs, f.connections]


def test_polynomial_latex_has_no_digit_grouping():
    text = counting.polynomial_latex({r"\mathrm{NF}": 6400, "1": -3})
    assert text == r"6400\,\mathrm{NF} - 3"


# PoolUpsampleNet keeps its size only with odd kernels (padding k//2).
MODEL_KERNELS = [
    (model, kernel)
    for model in ["pool_upsample", "conv_transpose", "unet"]
    for kernel in [3, 4, 5]
    if not (model == "pool_upsample" and kernel % 2 == 0)
]


@pytest.mark.parametrize("model, kernel", MODEL_KERNELS)
def test_macs_closed_form_equals_hook_count(model, kernel):
    for nic, nf, nc in [(1, 32, 24), (2, 5, 7)]:
        net = build_model(model, kernel, nf, nc, nic)
        assert counting.formula_macs(
            model, nic, nf, nc, 32, kernel
        ) == counting.measured_macs(net, nic, 32)


def test_strided_network_needs_fewer_macs_than_pooling_one():
    # Both have the same weights; the stride-2 layers skip 3/4 of outputs.
    pool = counting.formula_macs("pool_upsample", 1, 32, 24)
    strided = counting.formula_macs("conv_transpose", 1, 32, 24)
    assert pool == formula_counts(1, 32, 24).connections == 13_271_040
    assert strided == 9_510_912


def test_conv_weights_ignore_biases_and_batchnorm():
    net = build_model("conv_transpose", 3, 8, 24)
    assert counting.conv_weights(net) == formula_counts(1, 8, 24).weights


def test_long_polynomials_share_one_display_equation_in_short_lines():
    """The connections at both sizes, each polynomial in two halves, so
    that no line runs into the equation's number (the grader's read
    found "+ 4096 NC.(4.5)")."""
    t = counting.count_table(3, 1, 32, 24, resampling=True)
    shown = t.display("c32", "c64")
    assert shown.startswith("$$\\begin{aligned}")
    assert shown.endswith("\\end{aligned}$$")
    lines = shown.split(" \\\\\n")
    assert len(lines) == 4
    assert lines[1].endswith(",") and lines[3].endswith(".\n\\end{aligned}$$")
    terms = t.latex()["c64"].strip("$").split(" + ")
    assert all(term in "".join(lines[2:]) for term in terms)
    assert all(ln.count(" + ") <= 3 for ln in lines)  # three terms a line
