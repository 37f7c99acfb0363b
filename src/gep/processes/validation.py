"""What an application package declares to prove itself: sample inputs and expectations on
its outputs (the CWL hint ``gep:Validation``).

A developer validates a deployed package before offering it to others
(``POST /processes/{id}/validation``): the samples run as a real job and each expectation is
checked on what the job made (:mod:`gep.jobs.validation`). This module only reads and checks
the declaration, at deploy time, so that a package whose samples could never run, or whose
expectations name outputs it does not have, is refused with the field at fault rather than
failing its first validation.

The declaration is a CWL hint, so cwltool accepts and ignores it::

    $namespaces: {gep: "https://gep.dev/cwl#"}
    hints:
      gep:Validation:
        samples: {scene: "sentinel-2/S2A_…", threshold: 0.3}
        expect:
          mask: {media_type: image/tiff, min_size: 1, range: [0, 1]}
          count: {range: [1, 1000]}

(``samples``, not ``inputs``: cwltool's schema reads a hint's ``inputs`` as CWL parameters.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from gep.core.errors import InvalidInput

#: the namespace of GEP's CWL extensions; a package maps a prefix to it in ``$namespaces``
GEP_CWL_NAMESPACE = "https://gep.dev/cwl#"
#: the hint's class, as packages usually write it
HINT = "gep:Validation"
#: what one output's expectation may say
EXPECTATION_KEYS = ("present", "media_type", "min_size", "max_size", "range", "contains")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one output must be after the samples ran."""

    output: str
    #: made at all (False: the output must be absent, for an optional one)
    present: bool = True
    #: the published asset's media type, compared without parameters (``image/tiff`` matches
    #: ``image/tiff; application=geotiff``)
    media_type: str | None = None
    #: bytes, for files
    min_size: int | None = None
    max_size: int | None = None
    #: [min, max], inclusive: a number output's value, or every valid pixel of a raster
    range: tuple[float, float] | None = None
    #: text a text file (its first MiB) or a string output holds
    contains: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"present": self.present}
        for key in EXPECTATION_KEYS[1:]:
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "range" else value
        return out


@dataclass(frozen=True, slots=True)
class ValidationSpec:
    """A package's declared samples and expectations."""

    #: an execute request's ``inputs``: values, and catalogue items for File/Directory inputs
    #: (``"C/I"`` or ``{"href": …, "asset": …}``; an upload is an item of its upload collection)
    samples: dict[str, Any]
    expect: tuple[Expectation, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "expect": {e.output: e.as_dict() for e in self.expect}}


def find_hint(doc: dict[str, Any], proc: dict[str, Any]) -> Any:
    """The ``gep:Validation`` hint's body on the entry point (or the document), or None."""
    prefixes = {str(k) for k, v in (doc.get("$namespaces") or {}).items() if v == GEP_CWL_NAMESPACE}
    names = {f"{p}:Validation" for p in prefixes} | {HINT, GEP_CWL_NAMESPACE + "Validation"}
    for holder in (proc, doc):
        hints = holder.get("hints")
        if isinstance(hints, dict):
            for cls, body in hints.items():
                if cls in names:
                    return body if body is not None else {}
        elif isinstance(hints, list):
            for hint in hints:
                if isinstance(hint, dict) and hint.get("class") in names:
                    return {k: v for k, v in hint.items() if k != "class"}
    return None


def parse_spec(body: Any, inputs_model: type[BaseModel], outputs: list[str]) -> ValidationSpec:
    """A declaration checked against the package's inputs and outputs: 400 naming the field
    (``gep:Validation.samples.<input>``, ``gep:Validation.expect.<output>.<key>``)."""
    where = HINT
    if not isinstance(body, dict):
        raise InvalidInput(f"{where} must be a mapping with samples and expect", field=where)
    stray = sorted(set(body) - {"samples", "expect"})
    if stray:
        hint = " (write the sample values under samples)" if "inputs" in stray else ""
        raise InvalidInput(
            f"{where} has {', '.join(stray)}; it holds samples and expect only{hint}",
            field=f"{where}.{stray[0]}",
        )
    samples = body.get("samples")
    if samples is None:
        samples = {}
    if not isinstance(samples, dict):
        raise InvalidInput(
            f"{where}.samples must map input names to sample values", field=f"{where}.samples"
        )
    accepted = ", ".join(inputs_model.model_fields) or "none"
    for name in samples:
        if name not in inputs_model.model_fields:
            field = f"{where}.samples.{name}"
            raise InvalidInput(
                f"{field}: the package has no input '{name}'; it has: {accepted}", field=field
            )
    try:
        inputs_model.model_validate(samples)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        field = f"{where}.samples" + (f".{loc}" if loc else "")
        raise InvalidInput(
            f"{field}: {err['msg']} (the package's inputs: {accepted})", field=field
        ) from None
    raw_expect = body.get("expect")
    if raw_expect is None:
        raw_expect = {}
    if not isinstance(raw_expect, dict):
        raise InvalidInput(
            f"{where}.expect must map output names to expectations", field=f"{where}.expect"
        )
    expect = tuple(_expectation(str(name), rule, outputs) for name, rule in raw_expect.items())
    return ValidationSpec(samples=dict(samples), expect=expect)


def _expectation(name: str, rule: Any, outputs: list[str]) -> Expectation:
    field = f"{HINT}.expect.{name}"
    if name not in outputs:
        raise InvalidInput(
            f"{field}: the package has no output '{name}'; it has: "
            + (", ".join(outputs) or "none"),
            field=field,
        )
    if rule is None:
        rule = {}
    if not isinstance(rule, dict):
        raise InvalidInput(
            f"{field} must be a mapping of {', '.join(EXPECTATION_KEYS)}", field=field
        )
    for key in rule:
        if key not in EXPECTATION_KEYS:
            raise InvalidInput(
                f"{field}.{key} is not an expectation; use {', '.join(EXPECTATION_KEYS)}",
                field=f"{field}.{key}",
            )
    present = rule.get("present", True)
    if not isinstance(present, bool):
        raise InvalidInput(f"{field}.present is true or false", field=f"{field}.present")
    if not present and len(rule) > 1:
        raise InvalidInput(
            f"{field}: an output expected absent (present: false) can have no other expectation",
            field=f"{field}.present",
        )
    media = rule.get("media_type")
    if media is not None and (not isinstance(media, str) or "/" not in media):
        raise InvalidInput(
            f"{field}.media_type is a media type such as image/tiff",
            field=f"{field}.media_type",
        )
    sizes: dict[str, int | None] = {}
    for key in ("min_size", "max_size"):
        value = rule.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidInput(
                f"{field}.{key} is a whole number of bytes (0 or more)", field=f"{field}.{key}"
            )
        sizes[key] = value
    lo_size, hi_size = sizes["min_size"], sizes["max_size"]
    if lo_size is not None and hi_size is not None and lo_size > hi_size:
        raise InvalidInput(f"{field}: min_size exceeds max_size", field=f"{field}.min_size")
    bounds = rule.get("range")
    rng: tuple[float, float] | None = None
    if bounds is not None:
        ok = (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(
                isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b)
                for b in bounds
            )
            and bounds[0] <= bounds[1]
        )
        if not ok:
            raise InvalidInput(
                f"{field}.range is [min, max]: two finite numbers, min ≤ max",
                field=f"{field}.range",
            )
        rng = (float(bounds[0]), float(bounds[1]))
    contains = rule.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise InvalidInput(f"{field}.contains is a non-empty text", field=f"{field}.contains")
    return Expectation(
        output=name,
        present=present,
        media_type=media,
        min_size=lo_size,
        max_size=hi_size,
        range=rng,
        contains=contains,
    )


__all__ = ["GEP_CWL_NAMESPACE", "Expectation", "ValidationSpec", "find_hint", "parse_spec"]
