"""The pairing rule: a blocked cell is evidence only next to an allowed one to the same pod
and port; cells between two hosts outside the cluster are no evidence at all."""

from __future__ import annotations

import pytest

from npconform.model import pairing
from npconform.model.matrix import Cell, Matrix


def test_a_blocked_target_port_without_an_allowed_twin_is_unpaired() -> None:
    m = Matrix(
        {
            Cell("x/a", "y/b", 80): False,
            Cell("x/c", "y/b", 80): True,  # pairs y/b:80/TCP
            Cell("x/a", "y/b", 81): False,  # y/b:81 has no allowed cell
            Cell("x/a", "y/b", 80, "UDP"): False,  # another protocol is another port
        }
    )
    assert pairing.unpaired(m) == [("y/b", 81, "TCP", "pod"), ("y/b", 80, "UDP", "pod")]
    with pytest.raises(pairing.PairingError, match="y/b:81/TCP"):
        pairing.check(m)


def test_addresses_are_paired_separately() -> None:
    m = Matrix(
        {
            Cell("x/a", "y/b", 80, "TCP", "pod"): True,
            Cell("x/c", "y/b", 80, "TCP", "service"): False,
        }
    )
    assert pairing.unpaired(m) == [("y/b", 80, "TCP", "service")]


def test_cells_between_external_hosts_are_refused() -> None:
    m = Matrix({Cell("ext/one", "ext/two", 80): True, Cell("x/a", "ext/two", 80): False})
    assert pairing.off_cluster(m) == [Cell("ext/one", "ext/two", 80)]
    with pytest.raises(pairing.PairingError, match="never cross the cluster"):
        pairing.check(m)
    # and an off-cluster allowed cell is no twin: ext/two:80 stays unpaired
    assert pairing.unpaired(m) == [("ext/two", 80, "TCP", "pod")]


def test_a_fully_paired_step_passes() -> None:
    m = Matrix({Cell("x/a", "y/b", 80): False, Cell("twin/probe", "y/b", 80): True})
    pairing.check(m)
