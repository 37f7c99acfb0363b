"""The one check that an answer is an RFC 7807 problem naming the field it is about."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int, field: str, *words: str) -> dict[str, Any]:
    """``r`` is the problem+json of ``status``, typed and titled, that names ``field`` and
    whose detail says each of ``words``; returns its body."""
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert body.get("field") == field, body
    for w in words:
        assert w in body["detail"], body
    return body
