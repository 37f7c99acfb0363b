"""What a job request costs: the service's price applied to its inputs.

The price has a part per input product (the values that name catalogue items, found by
:func:`gep.processes.base.item_refs`: single, in lists, or in a network's pairs) and a part per
km² (the area of an ``aoi``/``area``/``bbox`` input); the CPU part is quoted from the price's
estimate and charged from the CPU time the worker measured.
"""

from __future__ import annotations

import math
from typing import Any

from gep.accounts.credits import Price, Quote, quote
from gep.core.geometry import parse_area
from gep.processes.base import item_refs

#: input names read as the area a job processes
AREA_INPUTS = ("aoi", "area", "bbox", "area_of_interest")
#: km per degree of latitude (and of longitude at the equator) on the mean Earth sphere
KM_PER_DEGREE = 111.195


def item_inputs(process: Any, inputs: dict[str, Any]) -> int:
    """How many catalogue products the request names (a network's pairs: each product once),
    counted over the same walk of the inputs that the job service resolves."""
    singles = 0
    networks: dict[str, set[str]] = {}
    for found in item_refs(process, inputs):
        if found.kind == "pair":
            networks.setdefault(found.input, set()).add(str(found.ref))
        else:
            singles += 1
    return singles + sum(len(refs) for refs in networks.values())


def area_km2(inputs: dict[str, Any]) -> float:
    """The area of the request's area input, km² (equirectangular at each ring's latitude:
    within 1 % for the areas a job processes); 0 when it names none."""
    for name in AREA_INPUTS:
        if inputs.get(name) is not None:
            geom = parse_area(inputs[name], field=f"inputs.{name}")
            polys = list(getattr(geom, "geoms", [geom]))
            total = 0.0
            for p in polys:
                lat = p.centroid.y
                total += p.area * KM_PER_DEGREE**2 * math.cos(math.radians(lat))
            return total
    return 0.0


def job_quote(process: Any, inputs: dict[str, Any], price: Price) -> Quote:
    return quote(price, inputs=item_inputs(process, inputs), area_km2=area_km2(inputs))


def actual_cost(charge: dict[str, Any] | None, cpu_s: float) -> int:
    """The job's cost in cents once its CPU time is known (0 for a job with no price)."""
    if not charge:
        return 0
    price = Price(**charge["price"])
    return quote(
        price, inputs=int(charge["inputs"]), area_km2=float(charge["area_km2"]), cpu_s=cpu_s
    ).total
