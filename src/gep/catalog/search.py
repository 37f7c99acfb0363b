"""The one search request both backends answer, parsed from STAC API GET or POST parameters.

Parsing and validation happen here, before any SQL is built, so that a malformed request is
refused with the field at fault and never reaches the database.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cql2
import orjson
from shapely.geometry.base import BaseGeometry

from gep.catalog.bounds import measure, text_nesting
from gep.core.access import Viewer
from gep.core.bbox import Bbox, parse_bbox
from gep.core.errors import InvalidInput, NotFound
from gep.core.geometry import parse_geojson_geometry
from gep.core.timeutil import TimeRange, parse_datetime_interval

if TYPE_CHECKING:
    from gep.catalog.gazetteer import Entry

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

# ---------------------------------------------------------------- input caps (docs/catalog.md)
# Checked before any parser or SQL sees the input: past them the ``cql2`` parser crashes the
# process (deep nesting), the databases refuse the statement (expression depth, bind
# variables) or one request holds seconds of CPU and gigabytes of memory. Each is far above
# what a real search needs.

#: characters of a ``filter`` (CQL2 text or JSON text)
MAX_FILTER_CHARS = 100_000
#: nesting of a ``filter``: parentheses, NOT and signs in CQL2 text; nested operators in
#: CQL2-JSON (an operator is an object and its ``args`` array: two JSON levels)
MAX_FILTER_DEPTH = 50
#: operators, property references and literal values of a ``filter`` (with ``query``)
MAX_FILTER_TERMS = 2_000
#: positions of ``intersects`` (and of the geometry literals of a ``filter`` together)
MAX_GEOMETRY_VERTICES = 20_000
#: entries of ``ids`` and of ``collections``
MAX_IDS = 10_000
MAX_COLLECTIONS = 1_000
#: characters of one id, collection id, free-text term or sort field
MAX_NAME_CHARS = 1_024
#: characters of any one query parameter as sent (a comma-separated ``ids``, ``intersects``)
MAX_PARAM_CHARS = 1_000_000
#: free-text terms of ``q``
MAX_Q_TERMS = 100
#: keys of ``sortby``
MAX_SORT_KEYS = 32
#: characters of a paging ``token``
MAX_TOKEN_CHARS = 65_536
#: the JSON nesting a CQL2-JSON filter or a geometry may have (below the 128 levels at which
#: the ``cql2`` library's JSON reader gives up)
_JSON_DEPTH = 2 * MAX_FILTER_DEPTH + 16


#: the STAC API counts the matches of a search up to this many by default and says
#: ``numberMatched`` when there are no more, on a search's first page; past it the number is
#: left out (``count=true`` asks for the exact number on every page, ``count=false`` for none)
NUMBER_MATCHED_CAP = 10_000


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool


@dataclass(slots=True)
class SearchRequest:
    collections: list[str] | None = None
    ids: list[str] | None = None
    bbox: Bbox | None = None
    intersects: BaseGeometry | None = None
    datetime: TimeRange | None = None
    #: CQL2-JSON, already parsed and validated by the ``cql2`` library
    filter: dict[str, Any] | None = None
    q: list[str] | None = None
    sortby: list[SortKey] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    token: str | None = None
    #: offset paging, for OpenSearch ``startIndex`` (STAC paging uses keyset tokens)
    offset: int = 0
    count: bool = False
    #: with ``count`` not asked for either way (None: no count), count up to this many matches and
    #: give ``numberMatched`` when there are no more (the STAC API's default: cheap, bounded)
    count_cap: int | None = None
    #: the client said ``count=false``: no count at all
    count_refused: bool = False
    #: fields extension, applied when rendering: ``fields_given`` says the parameter was sent at
    #: all; ``fields_include`` is None when ``include`` is missing (all fields are the base) and a
    #: list, possibly empty, when it was given (the default fields are the base)
    fields_given: bool = False
    fields_include: list[str] | None = None
    fields_exclude: list[str] | None = None
    #: who is searching: only what they may see is matched (None: everything, for internal use)
    viewer: Viewer | None = None


# ---------------------------------------------------------------- parameter parsing helpers


#: the largest offset a listing accepts: far past any real listing, and inside the 64-bit
#: integers both databases take (a larger one was a 500 from the driver)
MAX_OFFSET = 10**12


def parse_offset(value: Any, field: str = "offset") -> int:
    """How many rows a page skips: a whole number in [0, MAX_OFFSET]."""
    try:
        offset = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{field} must be a whole number >= 0", field=field) from None
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"{field} must be between 0 and {MAX_OFFSET}; got {offset}", field=field)
    return offset


def parse_limit(value: Any, field: str = "limit", *, clamp: bool = False) -> int:
    """An integer page size; ``clamp`` lowers one above ``MAX_LIMIT`` to it instead of refusing.

    STAC and OGC API - Features paging clamp: "If the value of the limit parameter is larger than
    the maximum value, this SHALL NOT result in an error (instead use the maximum as the parameter
    value)" (OGC 17-069r4, /req/core/fc-limit-response-1 C). OpenSearch ``count`` refuses instead,
    as its description document advertises the maximum.
    """
    try:
        limit = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"{field} must be an integer between 1 and {MAX_LIMIT}", field=field
        ) from None
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInput(f"{field} must be an integer", field=field)
    if clamp and limit > MAX_LIMIT:
        return MAX_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"{field} must be between 1 and {MAX_LIMIT}; got {limit}", field=field)
    return limit


def _str_list(value: Any, field: str, most: int) -> list[str]:
    """A comma-separated string or a list of strings, refused past ``most`` entries (counted
    before the string is split or the list copied) or ``MAX_NAME_CHARS`` characters each."""
    if isinstance(value, str):
        if len(value) > MAX_PARAM_CHARS:
            raise InvalidInput(
                f"{field} is {len(value)} characters long; at most {MAX_PARAM_CHARS} are accepted",
                field=field,
                limit=MAX_PARAM_CHARS,
            )
        if value.count(",") >= most:
            raise InvalidInput(
                f"{field} names more than {most} entries; at most {most} are accepted",
                field=field,
                limit=most,
            )
        out = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        if len(value) > most:
            raise InvalidInput(
                f"{field} has {len(value)} entries; at most {most} are accepted",
                field=field,
                limit=most,
            )
        if not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{field} must be a list of strings", field=field)
        out = list(value)
    else:
        raise InvalidInput(f"{field} must be a list of strings", field=field)
    long = next((v for v in out if len(v) > MAX_NAME_CHARS), None)
    if long is not None:
        raise InvalidInput(
            f"{field}: '{long[:40]}…' is {len(long)} characters long; at most {MAX_NAME_CHARS} "
            "are accepted",
            field=field,
            limit=MAX_NAME_CHARS,
        )
    return out


def parse_ids(value: Any, field: str = "ids") -> list[str] | None:
    """Item ids (at most ``MAX_IDS``), from a comma-separated string or a list."""
    return _str_list(value, field, MAX_IDS) or None


def refuse_nul(params: dict[str, Any]) -> None:
    """Refuse a NUL character anywhere in the parameters: PostgreSQL cannot store or compare
    one in text, SQLite's full-text parser stops at it, and no real value holds one."""
    for key, value in params.items():
        stack: list[Any] = [key, value]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                if "\x00" in v:
                    raise InvalidInput(
                        f"{key} contains a NUL character (\\u0000); remove it", field=str(key)
                    )
            elif isinstance(v, dict):
                stack.extend(v.keys())
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)


def check_geometry_size(geom: Any, field: str) -> None:
    """Refuse a GeoJSON geometry nested or detailed past the caps, before shapely reads it."""
    size = measure(geom, _JSON_DEPTH, MAX_FILTER_TERMS, MAX_GEOMETRY_VERTICES)
    if size.depth > _JSON_DEPTH:
        raise InvalidInput(
            f"{field} is nested more than {_JSON_DEPTH} levels deep", field=field, limit=_JSON_DEPTH
        )
    if size.vertices > MAX_GEOMETRY_VERTICES:
        raise InvalidInput(
            f"{field} has more than {MAX_GEOMETRY_VERTICES} vertices; simplify it",
            field=field,
            limit=MAX_GEOMETRY_VERTICES,
        )


def check_filter_size(tree: Any, field: str = "filter") -> None:
    """Refuse a CQL2-JSON tree past the nesting, term or vertex caps, before it is parsed or
    translated (the walk is iterative and stops at the first cap passed)."""
    size = measure(tree, _JSON_DEPTH, MAX_FILTER_TERMS, MAX_GEOMETRY_VERTICES)
    if size.depth > _JSON_DEPTH:
        raise InvalidInput(
            f"{field} is nested too deeply: at most {MAX_FILTER_DEPTH} levels of operators "
            f"({_JSON_DEPTH} levels of JSON) are accepted",
            field=field,
            limit=MAX_FILTER_DEPTH,
        )
    if size.terms > MAX_FILTER_TERMS:
        raise InvalidInput(
            f"{field} has more than {MAX_FILTER_TERMS} terms (operators, properties and "
            f"values); at most {MAX_FILTER_TERMS} are accepted: use IN lists or fewer clauses",
            field=field,
            limit=MAX_FILTER_TERMS,
        )
    if size.vertices > MAX_GEOMETRY_VERTICES:
        raise InvalidInput(
            f"{field}: its geometries have more than {MAX_GEOMETRY_VERTICES} vertices; "
            "simplify them",
            field=field,
            limit=MAX_GEOMETRY_VERTICES,
        )


def check_filter_text(text: str, field: str = "filter") -> None:
    """Refuse CQL2 text past the length or nesting caps: the ``cql2`` parser recurses once per
    level and overflows the C stack (a crash of the whole process) past a few thousand."""
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; at most {MAX_FILTER_CHARS} are accepted",
            field=field,
            limit=MAX_FILTER_CHARS,
        )
    depth = text_nesting(text)
    if depth > MAX_FILTER_DEPTH:
        raise InvalidInput(
            f"{field} is nested {depth} levels deep (parentheses, NOT, signs); at most "
            f"{MAX_FILTER_DEPTH} are accepted",
            field=field,
            limit=MAX_FILTER_DEPTH,
        )


def parse_sortby(value: Any) -> list[SortKey]:
    """``"-datetime,+id"`` (GET) or ``[{"field": "datetime", "direction": "desc"}]`` (POST)."""
    keys: list[SortKey] = []
    if isinstance(value, str | list) and (
        len(value) > MAX_NAME_CHARS * MAX_SORT_KEYS
        or (value.count(",") if isinstance(value, str) else len(value)) >= MAX_SORT_KEYS
    ):
        raise InvalidInput(
            f"sortby: at most {MAX_SORT_KEYS} sort keys are accepted",
            field="sortby",
            limit=MAX_SORT_KEYS,
        )
    if isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            desc = part.startswith("-")
            name = part.lstrip("+-").strip()
            if name.startswith("properties."):
                name = name[len("properties.") :]
            keys.append(SortKey(name, desc))
    elif isinstance(value, list):
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                raise InvalidInput(
                    f"sortby[{i}] must be an object with 'field' and 'direction'",
                    field=f"sortby[{i}]",
                )
            direction = str(entry.get("direction", "asc")).lower()
            if direction not in ("asc", "desc"):
                raise InvalidInput(
                    f"sortby[{i}].direction must be 'asc' or 'desc'; got '{direction}'",
                    field=f"sortby[{i}].direction",
                )
            name = entry["field"]
            if name.startswith("properties."):
                name = name[len("properties.") :]
            keys.append(SortKey(name, direction == "desc"))
    else:
        raise InvalidInput("sortby must be a string such as '-datetime' or a list", field="sortby")
    return keys


def parse_fields(value: Any) -> tuple[list[str] | None, list[str]]:
    """``"id,-geometry"`` (GET) or ``{"include": [...], "exclude": [...]}`` (POST).

    Returns ``(include, exclude)``. ``include`` is None when a POST body leaves it out: the fields
    extension then starts from every field ("ALL except for exclude"); a null or empty
    ``include``, and every GET value (text cannot say "missing"), start from the default fields.
    ``"fields": null`` is refused: the extension's OpenAPI schema makes ``fields`` an object.
    """
    if isinstance(value, str):
        include: list[str] = []
        exclude: list[str] = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part.startswith("-"):
                exclude.append(part[1:])
            else:
                include.append(part.lstrip("+"))
        return include, exclude
    if isinstance(value, dict):
        for name in ("include", "exclude"):
            v = value.get(name)
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise InvalidInput(
                    f"fields.{name} must be a list of field names", field=f"fields.{name}"
                )
        inc = None if "include" not in value else list(value["include"] or [])
        return inc, list(value.get("exclude") or [])
    raise InvalidInput(
        'fields must be an object such as {"include": ["id"], "exclude": ["geometry"]} '
        "(or, in a GET query, a list such as id,-geometry)",
        field="fields",
    )


def parse_filter(value: Any, lang: str | None) -> dict[str, Any]:
    """Parse CQL2 text or JSON with the ``cql2`` library into validated CQL2-JSON."""
    if lang is not None and lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput(
            f"filter-lang '{lang}' is not supported; use cql2-text or cql2-json",
            field="filter-lang",
        )
    try:
        if isinstance(value, dict):
            if lang == "cql2-text":
                raise InvalidInput(
                    "filter is a JSON object but filter-lang is cql2-text", field="filter"
                )
            check_filter_size(value)
            expr = cql2.parse_json(orjson.dumps(value).decode())
        elif isinstance(value, str):
            text = value.strip()
            if len(text) > MAX_FILTER_CHARS:
                check_filter_text(text)
            if lang == "cql2-json" or (lang is None and text.startswith("{")):
                try:
                    tree = orjson.loads(text)  # bounded: orjson stops at 1 024 levels
                except orjson.JSONDecodeError as exc:
                    raise InvalidInput(
                        f"filter: malformed CQL2-JSON: {exc}", field="filter"
                    ) from None
                check_filter_size(tree)
                expr = cql2.parse_json(text)
            else:
                check_filter_text(text)
                expr = cql2.parse_text(text)
        else:
            raise InvalidInput("filter must be CQL2 text or a CQL2-JSON object", field="filter")
        # no expr.validate(): it costs ~15 ms a call (a JSON Schema pass) and the translator
        # refuses unknown operators and malformed arguments with clearer messages anyway
        parsed = expr.to_json()
    except InvalidInput:
        raise
    except cql2.ParseError as exc:
        raise InvalidInput(f"filter: malformed CQL2:\n{exc}", field="filter") from None
    except cql2.ValidationError as exc:
        raise InvalidInput(f"filter: invalid CQL2: {exc}", field="filter") from None
    except Exception as exc:  # cql2 raises plain ValueError/TypeError for some JSON shapes
        raise InvalidInput(f"filter: malformed CQL2: {exc}", field="filter") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("filter must be a CQL2 expression (an object)", field="filter")
    check_filter_size(parsed)  # text within the caps can still spell many terms
    return _legacy_between(parsed)


def _legacy_between(node: Any) -> Any:
    """Rewrite the draft CQL2-JSON ``between`` ``[prop, [low, high]]`` as ``[prop, low, high]``.

    CQL2 1.0 (OGC 21-065r2) gives ``between`` three arguments; pre-1.0 drafts, and clients written
    against them (stac-api-validator 0.6 among them), send the bounds as one array. The meaning
    is not in doubt, so it is accepted rather than refused.
    """
    if isinstance(node, list):
        return [_legacy_between(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _legacy_between(v) for k, v in node.items()}
    args = out.get("args")
    if (
        str(out.get("op", "")).lower() == "between"
        and isinstance(args, list)
        and len(args) == 2
        and isinstance(args[1], list)
        and len(args[1]) == 2
    ):
        out["args"] = [args[0], args[1][0], args[1][1]]
    return out


_QUERY_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def query_to_cql2(query: Any) -> dict[str, Any] | None:
    """Translate the (legacy) query extension into CQL2-JSON so there is one filter path."""
    if query is None:
        return None
    if isinstance(query, str):
        try:
            query = orjson.loads(query)
        except orjson.JSONDecodeError:
            raise InvalidInput("query must be a JSON object", field="query") from None
    if not isinstance(query, dict):
        raise InvalidInput("query must be a JSON object", field="query")
    args: list[dict[str, Any]] = []
    for prop, ops in query.items():
        if not isinstance(ops, dict):
            raise InvalidInput(
                f'query.{prop} must be an object of operators such as {{"eq": 5}}',
                field=f"query.{prop}",
            )
        for op, val in ops.items():
            ref = {"property": prop}
            if op in _QUERY_OPS:
                args.append({"op": _QUERY_OPS[op], "args": [ref, val]})
            elif op == "in":
                if not isinstance(val, list):
                    raise InvalidInput(f"query.{prop}.in must be a list", field=f"query.{prop}")
                args.append({"op": "in", "args": [ref, val]})
            elif op == "startsWith":
                args.append({"op": "like", "args": [ref, f"{_escape_like(val)}%"]})
            elif op == "endsWith":
                args.append({"op": "like", "args": [ref, f"%{_escape_like(val)}"]})
            elif op == "contains":
                args.append({"op": "like", "args": [ref, f"%{_escape_like(val)}%"]})
            else:
                raise InvalidInput(
                    f"query.{prop}: operator '{op}' is not supported; use "
                    + ", ".join([*_QUERY_OPS, "in", "startsWith", "endsWith", "contains"]),
                    field=f"query.{prop}",
                )
    if not args:
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def _escape_like(val: Any) -> str:
    return str(val).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_q(value: Any, field: str = "q") -> list[str] | None:
    """Free-text terms: at most ``MAX_Q_TERMS``, without NUL (no text index takes one)."""
    if value is None:
        return None
    terms = _str_list(value, field, MAX_Q_TERMS)
    if any("\x00" in t for t in terms):
        raise InvalidInput(f"{field} contains a NUL character (\\u0000); remove it", field=field)
    return terms or None


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _require_date_times(value: str) -> None:
    """STAC API ``datetime`` is RFC 3339 *date-time*s (section 5.6): a bare date is refused.

    Used when ``build_search`` runs with ``whole_dates=False`` (the HTTP STAC API); it runs after
    ``parse_datetime_interval`` so that a malformed date keeps its more precise message.
    """
    for part in value.strip().split("/"):
        if _DATE_ONLY.match(part.strip()):
            raise InvalidInput(
                f"datetime: '{part.strip()}' is a date; STAC search takes RFC 3339 date-times, "
                f"e.g. {part.strip()}T00:00:00Z/{part.strip()}T23:59:59Z for that whole day",
                field="datetime",
            )


def build_search(
    params: dict[str, Any],
    *,
    from_get: bool,
    whole_dates: bool = True,
    places: Callable[[], Sequence[Entry]] | None = None,
) -> SearchRequest:
    """Build a :class:`SearchRequest` from GET query parameters or a POST body.

    ``places`` gives the named areas the caller may see, for ``place``; it is called only
    when a search names a place.

    ``whole_dates``: accept a bare date in ``datetime`` as that whole day (a convenience of the
    store and the CLI). The STAC API passes False: its ``datetime`` is RFC 3339 date-times only,
    and a bare date there is a 400 (stac-api-validator checks this).
    """
    req = SearchRequest()
    known = {
        "collections",
        "ids",
        "bbox",
        "intersects",
        "datetime",
        "filter",
        "filter-lang",
        "filter_lang",
        "filter-crs",
        "q",
        "sortby",
        "limit",
        "token",
        "fields",
        "query",
        "count",
        "numberMatched",
        "conf",
        "place",
        "place_buffer",
    }
    if not from_get:
        unknown = [k for k in params if k not in known]
        if unknown:
            raise InvalidInput(
                f"unknown search parameter(s) {unknown}; accepted: {sorted(known)}",
                field=unknown[0],
            )
    refuse_nul(params)
    if params.get("collections") is not None:
        req.collections = _str_list(params["collections"], "collections", MAX_COLLECTIONS) or None
    if params.get("ids") is not None:
        req.ids = parse_ids(params["ids"])
    if params.get("bbox") is not None and params.get("intersects") is not None:
        raise InvalidInput("give bbox or intersects, not both", field="intersects")
    if params.get("bbox") is not None:
        if not from_get and not isinstance(params["bbox"], list):
            # a POST body carries bbox as a JSON array; "1,2,3,4" there is a client error
            raise InvalidInput(
                "bbox in a POST body must be a JSON array of 4 or 6 numbers", field="bbox"
            )
        req.bbox = parse_bbox(params["bbox"])
    if params.get("intersects") is not None:
        geom = params["intersects"]
        if isinstance(geom, str):
            try:
                geom = orjson.loads(geom)
            except orjson.JSONDecodeError:
                raise InvalidInput(
                    "intersects must be a GeoJSON geometry", field="intersects"
                ) from None
        check_geometry_size(geom, "intersects")
        req.intersects = parse_geojson_geometry(geom, "intersects")
    if params.get("place") in (None, "") and params.get("place_buffer") not in (None, ""):
        raise InvalidInput("place_buffer grows the area of a place: give place too", field="place")
    if params.get("place") not in (None, ""):
        if params.get("bbox") is not None or params.get("intersects") is not None:
            raise InvalidInput("give place, bbox or intersects, not several", field="place")
        req.intersects = place_area(
            params["place"], params.get("place_buffer"), places() if places else ()
        )
    if params.get("datetime") not in (None, ""):
        if not isinstance(params["datetime"], str):
            raise InvalidInput("datetime must be a string", field="datetime")
        req.datetime = parse_datetime_interval(params["datetime"])
        if not whole_dates:
            _require_date_times(params["datetime"])
    filt = params.get("filter")
    lang = params.get("filter-lang") or params.get("filter_lang")
    crs = params.get("filter-crs")
    if crs and crs != "http://www.opengis.net/def/crs/OGC/1.3/CRS84":
        raise InvalidInput(
            "filter-crs: only http://www.opengis.net/def/crs/OGC/1.3/CRS84 is supported",
            field="filter-crs",
        )
    parts: list[dict[str, Any]] = []
    if filt not in (None, ""):
        parts.append(parse_filter(filt, lang))
    qfilter = query_to_cql2(params.get("query"))
    if qfilter:
        parts.append(qfilter)
    if parts:
        req.filter = parts[0] if len(parts) == 1 else {"op": "and", "args": parts}
        if qfilter:
            check_filter_size(req.filter, "query" if len(parts) == 1 else "filter")
    req.q = parse_q(params.get("q"))
    if params.get("sortby") not in (None, ""):
        req.sortby = parse_sortby(params["sortby"])
    if params.get("limit") is not None:
        req.limit = parse_limit(params["limit"], clamp=True)
    if params.get("token"):
        req.token = str(params["token"])
        decode_token(req.token)  # refuse a corrupt token before any work
    count = params.get("count", params.get("numberMatched"))
    if count is not None:
        req.count = str(count).lower() in ("1", "true", "yes")
        req.count_refused = not req.count
    if "fields" in params:
        req.fields_given = True
        req.fields_include, req.fields_exclude = parse_fields(params["fields"])
    return req


# ---------------------------------------------------------------- paging tokens


def encode_token(values: list[Any], direction: str = "next") -> str:
    raw = orjson.dumps({"d": direction, "k": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: the integers a token may carry: what both databases bind as a 64-bit integer
_INT64 = range(-(2**63), 2**63)


def _token_value(v: Any) -> bool:
    """A sort value this server could have written: a scalar the databases can bind."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return v in _INT64
    if isinstance(v, float):
        return v == v and v not in (float("inf"), float("-inf"))
    return isinstance(v, str) and "\x00" not in v


def decode_token(token: str) -> tuple[str, list[Any]]:
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError
        pad = "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(token + pad))
        direction, values = data["d"], data["k"]
        if direction not in ("next", "prev") or not isinstance(values, list):
            raise ValueError
        if not all(_token_value(v) for v in values):
            raise ValueError
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput(
            "token is not a paging token this server issued; follow the 'next' link as given",
            field="token",
        ) from None
    return direction, values


def place_area(
    name: Any, buffer_km: Any = None, extra: Sequence[Entry] = (), field: str = "place"
) -> BaseGeometry:
    """The area of a named place (``?place=Etna``): the gazetteer's best match (among its own
    entries and the named areas ``extra``), its box (or a plate's or area's polygon), grown by
    ``place_buffer`` kilometres."""
    from shapely.geometry import box, shape

    from gep.catalog.gazetteer import search as gazetteer_search

    if not isinstance(name, str):
        raise InvalidInput(f"{field} must be a name", field=field)
    try:
        best = gazetteer_search(name, limit=1, extra=extra)["features"][0]
    except NotFound as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from None
    polygon = best["properties"]["kind"] in ("plate", "area")
    area = shape(best["geometry"]) if polygon else box(*best["bbox"])
    if buffer_km not in (None, ""):
        try:
            km = float(buffer_km)
        except (TypeError, ValueError):
            raise InvalidInput(
                "place_buffer is a distance in kilometres", field="place_buffer"
            ) from None
        if not 0 <= km <= 500:
            raise InvalidInput("place_buffer must be between 0 and 500 km", field="place_buffer")
        area = area.buffer(km / 111.32)
    return area
