"""Pydantic's JSON Schema → the schema dialect of OGC API - Processes 1.0 descriptions.

Process descriptions carry each input's and output's schema (``schema.yaml`` of the 1.0
standard: OpenAPI 3.0's subset of JSON Schema, ``additionalProperties: false``). Pydantic
writes JSON Schema 2020-12, which that dialect refuses in a few ways clients trip on:
``Optional`` becomes ``anyOf [..., {"type": "null"}]``, models become ``$ref`` into a ``$defs``
nested in the schema, ``const``, numeric ``exclusiveMinimum``, ``examples`` and GEP's own
``x-gep-*`` marks. :func:`ogc_schema` rewrites one schema into the 1.0 dialect (references
inlined, null as ``nullable``, ``const`` as a one-value ``enum``, exclusive bounds as booleans),
dropping what the dialect has no word for; the marks go beside the schema, on the input's
description (:func:`gep_marks`), where a 1.0 client ignores them and GEP's web UI finds them.
"""

from __future__ import annotations

from typing import Any

#: the keywords ``schema.yaml`` (OGC API - Processes 1.0) allows
_ALLOWED = frozenset(
    {
        "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxProperties", "minProperties", "required", "enum", "type", "not", "allOf", "oneOf",
        "anyOf", "items", "properties", "additionalProperties", "description", "format",
        "default", "nullable", "readOnly", "writeOnly", "example", "deprecated",
        "contentMediaType", "contentEncoding", "contentSchema",
    }
)  # fmt: skip
_TYPES = frozenset({"array", "boolean", "integer", "number", "object", "string"})
#: nesting past this is a recursive model: cut rather than inlined forever
_MAX_DEPTH = 32


def ogc_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``schema`` (with its model's ``$defs``) in the OGC API - Processes 1.0 dialect."""
    return _convert(schema, defs or {}, 0)


def gep_marks(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``x-gep-*`` marks of a schema (which :func:`ogc_schema` leaves out)."""
    return {k: v for k, v in schema.items() if k.startswith("x-gep")}


def _convert(schema: Any, defs: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return {}
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return _convert({**target, **siblings}, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            out["enum"] = [value]
        elif key == "examples" and isinstance(value, list) and value:
            out["example"] = value[0]
        elif key == "prefixItems" and isinstance(value, list):
            # a tuple: its members' schemas as one (1.0 has no positional items)
            members = [_convert(v, defs, depth + 1) for v in value]
            out.setdefault("items", members[0] if len(set(map(str, members))) == 1 else {})
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out[key.replace("exclusiveM", "m")] = value
            out[key] = True
        elif key == "type":
            _type(value, out)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            _alternatives(key, value, defs, depth, out)
        elif key == "not":
            out["not"] = _convert(value, defs, depth + 1)
        elif key == "items":
            out["items"] = _convert(value, defs, depth + 1) if isinstance(value, dict) else {}
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: _convert(v, defs, depth + 1) for k, v in value.items()}
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else _convert(value, defs, depth + 1)
        elif key in _ALLOWED and key not in out:
            out[key] = value
    return out


def _type(value: Any, out: dict[str, Any]) -> None:
    types = value if isinstance(value, list) else [value]
    if "null" in types:
        out["nullable"] = True
    real = [t for t in types if t in _TYPES]
    if len(real) == 1:
        out["type"] = real[0]
    elif len(real) > 1:
        out["anyOf"] = [{"type": t} for t in real]


def _alternatives(
    key: str, value: list[Any], defs: dict[str, Any], depth: int, out: dict[str, Any]
) -> None:
    """``Optional[X]`` (``anyOf [X, {"type": "null"}]``) becomes ``X`` with ``nullable``."""
    members = [v for v in value if not (isinstance(v, dict) and v.get("type") == "null")]
    if len(members) < len(value):
        out["nullable"] = True
    converted = [_convert(v, defs, depth + 1) for v in members]
    if len(converted) == 1 and key != "allOf":
        for k, v in converted[0].items():
            out.setdefault(k, v)
    elif converted:
        out[key] = converted


def file_output_schema(schema: dict[str, Any], media_type: str) -> dict[str, Any]:
    """A file output's schema: its value is a link to the file, of ``media_type``."""
    if schema.get("type") == "array":
        return {**schema, "items": file_output_schema(schema.get("items") or {}, media_type)}
    if schema.get("type") == "object":
        inner = schema.get("additionalProperties")
        inner = inner if isinstance(inner, dict) else {}
        return {**schema, "additionalProperties": file_output_schema(inner, media_type)}
    out = {k: v for k, v in schema.items() if k not in ("type", "format", "anyOf", "oneOf")}
    return {**out, "type": "string", "format": "uri", "contentMediaType": media_type}
