"""Question 4.3: the closed-form counts of PoolUpsampleNet equal an
independent count of a real network."""
from __future__ import annotations

import pytest

from a2.counting import formula_counts, measured_counts
from a2.models import PoolUpsampleNet

TRIPLES = [(1, 32, 24), (1, 8, 24), (3, 16, 10), (2, 5, 7)]


@pytest.mark.parametrize("nic,nf,nc", TRIPLES)
@pytest.mark.parametrize("size", [32, 64])
def test_formula_counts_equal_measured_counts(nic, nf, nc, size):
    net = PoolUpsampleNet(3, nf, nc, num_in_channels=nic)
    assert formula_counts(nic, nf, nc, size) == measured_counts(
        net, nic, size)


@pytest.mark.parametrize("nic,nf,nc", [(2, 5, 7), (3, 16, 10)])
def test_formula_counts_hold_for_kernel_5(nic, nf, nc):
    net = PoolUpsampleNet(5, nf, nc, num_in_channels=nic)
    assert formula_counts(nic, nf, nc, 32, kernel=5) == measured_counts(
        net, nic, 32)


@pytest.mark.parametrize("nic,nf,nc", TRIPLES)
def test_weights_at_kernel_3_are_the_issues_formula(nic, nf, nc):
    expected = 9 * nic * nf + 36 * nf ** 2 + 9 * nf * nc + 9 * nc ** 2
    assert formula_counts(nic, nf, nc).weights == expected
    # Distinct primes per term: a wrong coefficient cannot cancel out.
    assert formula_counts(2, 3, 5).weights == 9 * 6 + 36 * 9 + 9 * 15 \
        + 9 * 25


def test_doubling_the_input_keeps_weights_and_quadruples_the_rest():
    # Counted on a real network, not read off the formula's A = size^2.
    net = PoolUpsampleNet(3, 32, 24)
    small, big = measured_counts(net, 1, 32), measured_counts(net, 1, 64)
    assert big.weights == small.weights
    assert big.outputs == 4 * small.outputs
    assert big.connections == 4 * small.connections


def test_outputs_at_32_are_2240_nf_plus_2304_nc():
    for nf, nc in [(32, 24), (16, 10), (48, 3)]:
        assert formula_counts(1, nf, nc).outputs == 2240 * nf + 2304 * nc


def test_connections_at_32_match_the_derived_polynomial():
    nic, nf, nc = 2, 32, 24
    expected = (9216 * nic * nf + 5760 * nf ** 2 + 2304 * nf * nc
                + 9216 * nc ** 2 + 1792 * nf + 1024 * nc)
    assert formula_counts(nic, nf, nc).connections == expected
