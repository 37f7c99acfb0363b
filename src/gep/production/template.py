"""Input templates: a service's inputs with ``{{placeholders}}`` the trigger fills.

A string that is exactly one placeholder (``"{{area}}"``) is replaced by the value itself, so a
geometry stays a GeoJSON object and a number a number; a placeholder inside a longer string is
replaced by the value's text. Which placeholders a trigger fills is fixed per kind
(:data:`PLACEHOLDERS`), so a template naming another one is refused at creation, with the list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gep.core.enums import TriggerKind
from gep.core.errors import InvalidInput

_ONE = re.compile(r"^\{\{\s*([a-z_]+)\s*\}\}$")
_ANY = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

#: what each kind of trigger fills in (a data trigger with a pairing rule fills the pair's)
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "data": ("item", "collection", "datetime", "area"),
    "pairs": ("reference", "secondary", "datetime", "area", "btemp", "bperp"),
    "time": ("start", "end", "datetime", "area"),
    "event": (
        "reference",
        "secondary",
        "event",
        "magnitude",
        "epicentre",
        "event_time",
        "datetime",
        "area",
    ),
}


def placeholder_set(kind: TriggerKind, paired: bool) -> str:
    if kind == TriggerKind.DATA:
        return "pairs" if paired else "data"
    return str(kind)


def used(template: Any) -> set[str]:
    """Every placeholder named anywhere in ``template``."""
    found: set[str] = set()
    stack = [template]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.update(_ANY.findall(value))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def check_template(template: dict[str, Any], kind: str) -> None:
    allowed = PLACEHOLDERS[kind]
    unknown = sorted(used(template) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"inputs name placeholder(s) {', '.join('{{' + u + '}}' for u in unknown)} that a "
            f"{kind} trigger does not fill; it fills: "
            + ", ".join("{{" + a + "}}" for a in allowed),
            field="inputs",
        )


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """The template with every placeholder replaced (a missing value: ``None`` for a whole
    string, the empty text inside one)."""
    if isinstance(template, str):
        m = _ONE.match(template)
        if m:
            return values.get(m.group(1))
        if "{{" in template:
            return _ANY.sub(lambda mm: _text(values.get(mm.group(1))), template)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def _text(value: Any) -> str:
    return "" if value is None else str(value)
