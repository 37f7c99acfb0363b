"""Measures of a search input's size and nesting, taken without recursion and without parsing.

The ``cql2`` text parser, GEOS's WKT reader and our own tree walkers all recurse: a deep enough
input exhausts the C stack and kills the whole server process, which no ``except`` can catch.
So the depth of an input has to be known *before* any of them sees it, by scans that use a
loop and an explicit stack. The limits themselves live in :mod:`gep.catalog.search`; this
module only measures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: one lexical token of CQL2 text (or WKT): a quoted string or identifier (doubled quotes
#: escape), a word or number, a bracket, a sign, or any other single character
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[\w.:]+|[()\[\]]|[-+]|\S")
#: tokens that take one operand on their right and so nest like a parenthesis
_PREFIX = {"not", "-", "+"}


def text_nesting(text: str) -> int:
    """How deeply CQL2 text (or WKT) nests: brackets, plus runs of prefix operators.

    ``NOT NOT NOT a = 1`` and ``- - - 5`` nest as deeply as parentheses do in the parser, so a
    run of prefix operators counts one level each, on top of the brackets around it. Text
    inside quotes does not count. An upper bound of the parser's recursion, never below it.
    """
    deepest = 0
    around = 0  # levels opened by the enclosing brackets and the prefix runs before them
    stack: list[int] = []
    run = 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        low = tok.lower()
        if low in _PREFIX:
            run += 1
            deepest = max(deepest, around + run)
        elif tok in "([":
            level = run + 1
            stack.append(level)
            around += level
            run = 0
            deepest = max(deepest, around)
        elif tok in ")]":
            if stack:
                around -= stack.pop()
            run = 0
        else:
            run = 0
    return deepest


@dataclass(slots=True)
class Size:
    """What :func:`measure` found (each count stops growing once past its cap)."""

    depth: int = 0
    #: operators, property references and literal values (a geometry's coordinates excluded)
    terms: int = 0
    #: positions in geometry literals
    vertices: int = 0


def _is_geometry(node: dict[str, Any]) -> bool:
    return isinstance(node.get("type"), str) and ("coordinates" in node or "geometries" in node)


def measure(node: Any, max_depth: int, max_terms: int, max_vertices: int) -> Size:
    """The nesting depth (JSON levels), terms and geometry vertices of a parsed JSON value.

    Stops as soon as one count passes its cap, so a huge value costs no more than the cap.
    A GeoJSON geometry's positions count as vertices, not terms; everything else that is not
    a list counts as a term (an IN list of 100 values is 100 terms).
    """
    size = Size()
    # (value, depth, inside a geometry's coordinates)
    stack: list[tuple[Any, int, bool]] = [(node, 1, False)]
    while stack:
        value, depth, coords = stack.pop()
        if depth > size.depth:
            size.depth = depth
        if size.depth > max_depth or size.terms > max_terms or size.vertices > max_vertices:
            break
        if isinstance(value, list):
            if coords and value and all(isinstance(v, int | float) for v in value[:3]):
                size.vertices += 1
                continue
            stack.extend((v, depth + 1, coords) for v in value)
        elif isinstance(value, dict):
            if _is_geometry(value):
                if "coordinates" in value:
                    stack.append((value["coordinates"], depth + 1, True))
                if "geometries" in value:
                    stack.append((value["geometries"], depth + 1, False))
                continue
            size.terms += 1
            if "op" in value:
                if value.get("args") is not None:
                    stack.append((value["args"], depth + 1, False))
            elif "property" not in value:  # timestamps, intervals, bboxes, unknown objects
                stack.extend((v, depth + 1, False) for v in value.values())
        elif not coords:
            size.terms += 1
    return size


def wkt_vertices(text: str) -> int:
    """An upper bound of the positions in WKT text: one per comma and per opening bracket."""
    return text.count(",") + text.count("(") + 1
