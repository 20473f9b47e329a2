"""Positions of named locations: configured, or laid out on a ring from the name."""

from __future__ import annotations

import math

import pytest

from robots.layout import BENCH_HEIGHT_M, Layout


def test_configured_positions_are_used_and_others_lie_on_the_ring() -> None:
    layout = Layout({"rack": (0.0, 0.0, 0.9)}, ring_radius_m=3.0)
    assert layout.position("rack") == (0.0, 0.0, 0.9) and layout.configured("rack")
    x, y, z = layout.position("reactor-9")
    assert math.hypot(x, y) == pytest.approx(3.0) and z == BENCH_HEIGHT_M
    assert not layout.configured("reactor-9")


def test_defaults_depend_on_the_name_only() -> None:
    assert Layout({}).position("hplc-1") == Layout({"x": (1, 1, 1)}).position("hplc-1")
    assert Layout({}).position("hplc-1") != Layout({}).position("hplc-2")


def test_farthest_is_the_longest_configured_walk_or_the_ring_diameter() -> None:
    assert Layout({"a": (0, 0, 1), "b": (3, 4, 1)}).farthest_m() == 5.0
    assert Layout({"a": (0, 0, 1)}, ring_radius_m=2.0).farthest_m() == 4.0
    assert Layout({}, ring_radius_m=2.0).farthest_m() == 4.0
