"""The app document: what a user sends to ``POST /apps`` and what is stored.

Every member is checked here, and *all* problems are collected before any is raised, so that a
user fixing a document sees the whole list at once (the import answers the same way). Checks that
need the database (does the collection exist, may the caller see it) are the service's.
"""

from __future__ import annotations

import math
from typing import Any

from gep.core.errors import InvalidInput
from gep.core.ids import check_id

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_MEMBERS = 100
#: members a document may carry; anything else is refused (a typo would be lost otherwise)
MEMBERS = {
    "id",
    "title",
    "description",
    "thumbnail",
    "bbox",
    "collections",
    "searches",
    "services",
    "subscriptions",
    "areas",
    "layers",
}
LAYER_MEMBERS = {"title", "collection", "item", "asset", "filter", "render", "visible", "opacity"}
SEARCH_MEMBERS = {"title", "collections", "bbox", "datetime", "filter", "query"}


class Problems:
    """Problems found in one document, each ``{"field": …, "detail": …}``."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, detail: str) -> None:
        self.items.append({"field": field, "detail": detail})

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, what: str = "the app document") -> None:
        if self.items:
            raise AppInvalid(what, self.items)


class AppInvalid(InvalidInput):
    """A document with one or more problems (400); ``problems`` lists them all."""

    def __init__(self, what: str, problems: list[dict[str, str]]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{what}: {first['field']}: {first['detail']}{more}",
            field=first["field"],
            problems=problems,
        )
        self.problems = problems


def _ids(doc: dict[str, Any], key: str, problems: Problems, what: str) -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or len(value) > MAX_MEMBERS:
        problems.add(key, f"must be a list of at most {MAX_MEMBERS} {what} ids")
        return []
    out: list[str] = []
    for i, v in enumerate(value):
        try:
            out.append(check_id(v, f"{key}[{i}]", f"a {what} id"))
        except InvalidInput as e:
            problems.add(f"{key}[{i}]", str(e))
    if len(set(out)) != len(out):
        problems.add(key, f"lists a {what} twice")
    return out


def _bbox(value: Any, field: str, problems: Problems) -> list[float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        problems.add(field, "must be [west, south, east, north] in degrees")
        return None
    w, s, e, n = (float(v) for v in value)
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s < n <= 90):
        problems.add(field, "must be [west, south, east, north] with -90 <= south < north <= 90")
        return None
    return [w, s, e, n]


def _text(doc: dict[str, Any], key: str, limit: int, problems: Problems, required: bool) -> Any:
    value = doc.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        problems.add(key, f"must be text of 1 to {limit} characters")
        return None
    return value.strip()


def _layer(value: Any, field: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(field, "must be an object with at least a collection")
        return None
    extra = set(value) - LAYER_MEMBERS
    if extra:
        problems.add(field, f"unknown members {sorted(extra)}; allowed: {sorted(LAYER_MEMBERS)}")
    out: dict[str, Any] = {}
    try:
        out["collection"] = check_id(value.get("collection"), f"{field}.collection", "a collection")
    except InvalidInput as e:
        problems.add(f"{field}.collection", str(e))
    title = value.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
        problems.add(f"{field}.title", f"must be text of at most {MAX_TITLE} characters")
    out["title"] = title if isinstance(title, str) else None
    for key in ("item", "asset", "filter"):
        v = value.get(key)
        if v is not None and (not isinstance(v, str) or not v or len(v) > 2000):
            problems.add(f"{field}.{key}", "must be a non-empty string")
            v = None
        out[key] = v
    render = value.get("render") or {}
    if not isinstance(render, dict) or not all(
        isinstance(v, str | int | float | bool | list) for v in render.values()
    ):
        problems.add(
            f"{field}.render",
            "must be an object of tile parameters (e.g. rescale, colormap_name, bidx)",
        )
        render = {}
    out["render"] = render
    visible = value.get("visible", True)
    if not isinstance(visible, bool):
        problems.add(f"{field}.visible", "must be true or false")
    out["visible"] = bool(visible)
    opacity = value.get("opacity", 1.0)
    if not isinstance(opacity, int | float) or isinstance(opacity, bool) or not 0 <= opacity <= 1:
        problems.add(f"{field}.opacity", "must be a number from 0 to 1")
        opacity = 1.0
    out["opacity"] = float(opacity)
    return out


def _search(value: Any, field: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(field, "must be an object: title, collections, bbox, datetime, filter")
        return None
    extra = set(value) - SEARCH_MEMBERS
    if extra:
        problems.add(field, f"unknown members {sorted(extra)}; allowed: {sorted(SEARCH_MEMBERS)}")
    title = value.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        problems.add(f"{field}.title", f"must be text of 1 to {MAX_TITLE} characters")
    colls = _ids(value, "collections", sub := Problems(), "collection")
    for p in sub.items:
        problems.add(f"{field}.{p['field']}", p["detail"])
    if not colls:
        problems.add(f"{field}.collections", "must name at least one collection")
    out = {"title": title, "collections": colls}
    out["bbox"] = _bbox(value.get("bbox"), f"{field}.bbox", problems)
    for key in ("datetime", "filter"):
        v = value.get(key)
        if v is not None and not isinstance(v, str):
            problems.add(f"{field}.{key}", "must be a string")
            v = None
        out[key] = v
    return out


def validate(doc: Any, *, partial: bool = False) -> dict[str, Any]:
    """The clean document, or :class:`AppInvalid` listing every bad field.

    ``partial``: the members of a merge patch (only those present are checked)."""
    problems = Problems()
    if not isinstance(doc, dict):
        problems.add("body", "must be a JSON object (an app document, docs/apps.md)")
        problems.raise_if_any()
    extra = set(doc) - MEMBERS
    if extra:
        problems.add(
            sorted(extra)[0], f"unknown members {sorted(extra)}; allowed: {sorted(MEMBERS)}"
        )
    out: dict[str, Any] = {}
    if "id" in doc and doc["id"] is not None:
        try:
            out["id"] = check_id(doc["id"], "id", "an app id")
        except InvalidInput as e:
            problems.add("id", str(e))
    if not partial or "title" in doc:
        out["title"] = _text(doc, "title", MAX_TITLE, problems, required=True)
    if not partial or "description" in doc:
        out["description"] = _text(doc, "description", MAX_DESCRIPTION, problems, required=False)
    if not partial or "thumbnail" in doc:
        thumb = doc.get("thumbnail")
        if thumb is not None and (
            not isinstance(thumb, str)
            or not thumb.startswith(("https://", "http://", "data:image/", "/"))
            or len(thumb) > 200_000
        ):
            problems.add(
                "thumbnail", "must be an http(s) URL, a path on this server or a data:image URL"
            )
            thumb = None
        out["thumbnail"] = thumb
    if not partial or "bbox" in doc:
        out["bbox"] = _bbox(doc.get("bbox"), "bbox", problems)
    for key, what in (
        ("collections", "collection"),
        ("services", "service"),
        ("subscriptions", "subscription"),
        ("areas", "area"),
    ):
        if not partial or key in doc:
            out[key] = _ids(doc, key, problems, what)
    if not partial or "layers" in doc:
        layers = doc.get("layers", [])
        if not isinstance(layers, list) or len(layers) > MAX_MEMBERS:
            problems.add("layers", f"must be a list of at most {MAX_MEMBERS} layers")
            layers = []
        out["layers"] = [
            x for i, v in enumerate(layers) if (x := _layer(v, f"layers[{i}]", problems))
        ]
    if not partial or "searches" in doc:
        searches = doc.get("searches", [])
        if not isinstance(searches, list) or len(searches) > MAX_MEMBERS:
            problems.add("searches", f"must be a list of at most {MAX_MEMBERS} saved searches")
            searches = []
        out["searches"] = [
            x for i, v in enumerate(searches) if (x := _search(v, f"searches[{i}]", problems))
        ]
    problems.raise_if_any()
    return out
