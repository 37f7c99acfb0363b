"""The services' render declarations: closed, valid, and named in rio-tiler's colour maps."""

from __future__ import annotations

import math

import pytest
from rio_tiler.colormap import cmap

from gep.core.render import (
    LOS_DISPLACEMENT_M,
    WRAPPED_PHASE,
    RenderClass,
    RenderHint,
    RenderKind,
    nice,
)
from gep.processes.registry import ProcessRegistry

EXPECTED = {  # what the issue asks each kind of output to look like
    ("dinsar", "los_displacement"): (RenderKind.DIVERGING, "rdbu_r"),
    ("dinsar", "coherence"): (RenderKind.SEQUENTIAL, "greys_r"),
    ("dinsar", "wrapped_phase"): (RenderKind.CYCLIC, "twilight"),
    ("dinsar", "amplitude"): (RenderKind.SEQUENTIAL, "greys_r"),
    ("coin", "intensity_pre"): (RenderKind.SEQUENTIAL, "greys_r"),
    ("sbas", "velocity"): (RenderKind.DIVERGING, "rdbu_r"),
    ("sbas", "displacement_2021-03-04"): (RenderKind.DIVERGING, "rdbu_r"),
    ("hotspots", "mask_000_2021-05-01"): (RenderKind.CLASSES, None),
    ("offset-tracking", "magnitude"): (RenderKind.SEQUENTIAL, "viridis"),
}


def test_every_declared_colour_map_is_rio_tilers() -> None:
    names = set(cmap.list())
    registry = ProcessRegistry()
    seen = 0
    for pid in registry.ids():
        for key, hint in registry.get(pid).renders.items():
            seen += 1
            assert hint.colormap_name is None or hint.colormap_name in names, (pid, key)
    assert seen >= 20


@pytest.mark.parametrize(("pid", "key"), list(EXPECTED))
def test_services_declare_the_issues_renders(pid: str, key: str) -> None:
    hint = ProcessRegistry().get(pid).render_for(key)
    assert hint is not None
    assert (hint.kind, hint.colormap_name) == EXPECTED[(pid, key)]


def test_ranges() -> None:
    assert WRAPPED_PHASE.range_for(3.0, -3.0, 3.0) == (-math.pi, math.pi)  # fixed
    # symmetric about zero: the 99th percentile of |value|, rounded outwards
    assert LOS_DISPLACEMENT_M.range_for(0.012345, -0.01, 0.011) == (-0.0124, 0.0124)
    assert LOS_DISPLACEMENT_M.range_for(None, None, None) == (-0.05, 0.05)  # the default
    seq = RenderHint(RenderKind.SEQUENTIAL, "a", "dB", "greys_r")
    assert seq.range_for(30.0, -21.234, 4.567) == (-21.3, 4.57)
    mag = RenderHint(RenderKind.SEQUENTIAL, "m", "m", "viridis", floor=0.0)
    assert mag.range_for(2.0, 0.1, 1.234) == (0.0, 1.24)
    assert nice(0.0) == 0.0 and nice(-0.012345) == -0.0123 and nice(-0.012345, down=True) == -0.0124


@pytest.mark.parametrize(
    "make",
    [
        lambda: RenderHint(RenderKind.DIVERGING, "x"),  # no colour map
        lambda: RenderHint(RenderKind.CLASSES, "x"),  # no classes
        lambda: RenderHint(RenderKind.SEQUENTIAL, "x", colormap_name="viridis", rescale=(1, 0)),
        lambda: RenderHint(RenderKind.SEQUENTIAL, "x", colormap_name="viridis", half_range=1),
        lambda: RenderClass(1, "hot", "red"),
    ],
)
def test_malformed_hints_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
