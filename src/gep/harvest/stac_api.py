"""A remote STAC API, through its item search.

The search is asked oldest first (``sortby=+properties.datetime``) from the checkpoint, so an
incremental run only pages through what is new; servers that cannot sort (``params.sortby:
false``) still work, the checkpoint then only narrows the ``datetime`` interval. Paging follows
the ``next`` link the server returns, whether it is a GET URL or a POST with a body (and
``merge``), exactly as the STAC API - Item Search spec describes: the cursor *is* that link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from gep.core.timeutil import format_rfc3339
from gep.harvest.base import HarvestError, Page, Source

#: search parameters a source may pass through to the remote search
PASSED_PARAMS = ("collections", "bbox", "intersects", "ids", "filter", "filter-lang", "query")


class StacApiSource(Source):
    kind = "stac"

    def start(self, since: datetime | None) -> dict[str, Any]:
        p = self.config.params
        body: dict[str, Any] = {k: p[k] for k in PASSED_PARAMS if k in p}
        body["limit"] = int(p.get("limit", 100))
        if since is not None:
            body["datetime"] = f"{format_rfc3339(since)}/.."
        if p.get("sortby", True):
            body["sortby"] = [{"field": "properties.datetime", "direction": "asc"}]
        url = self.config.url.rstrip("/") + "/search"
        if str(p.get("method", "POST")).upper() == "GET":
            return {"method": "GET", "url": url, "params": _as_query(body)}
        return {"method": "POST", "url": url, "body": body}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        method = str(cursor.get("method", "GET")).upper()
        url = str(cursor["url"])
        if method == "POST":
            doc = self.fetcher.json("POST", url, json=cursor.get("body") or {})
        else:
            doc = self.fetcher.json("GET", url, params=cursor.get("params"))
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
            raise HarvestError(f"{url}: the answer is not a STAC ItemCollection (no 'features')")
        page = Page(items=[])
        for n, feature in enumerate(doc["features"]):
            try:
                page.items.append(self._item(feature, url))
            except (KeyError, TypeError, ValueError) as exc:
                fid = feature.get("id") if isinstance(feature, dict) else None
                page.errors.append(f"{url} feature {n} ({fid}): {exc}")
        page.next = _next_cursor(doc, cursor, url) if doc["features"] else None
        return page

    def _item(self, feature: dict[str, Any], url: str) -> dict[str, Any]:
        if feature.get("type") != "Feature" or not feature.get("id"):
            raise ValueError("not a STAC Item (type Feature with an id)")
        item = dict(feature)
        links = feature.get("links") or []
        self_href = next((ln.get("href") for ln in links if ln.get("rel") == "self"), None)
        base = self_href or url
        # relative asset hrefs only make sense next to the remote item: make them absolute
        assets = {}
        for key, asset in (feature.get("assets") or {}).items():
            asset = dict(asset)
            if "href" in asset:
                asset["href"] = urljoin(base, asset["href"])
            assets[key] = asset
        item["assets"] = assets
        kept = [ln for ln in links if ln.get("rel") not in ("self", "root", "parent", "collection")]
        if self_href:
            kept.append({"rel": "via", "href": self_href, "type": "application/geo+json"})
        item["links"] = kept
        props = dict(item.get("properties") or {})
        if feature.get("collection"):
            props["gep:remote_collection"] = feature["collection"]
        item["properties"] = props
        return self.stac_item(item)


def _next_cursor(
    doc: Mapping[str, Any], cursor: Mapping[str, Any], url: str
) -> dict[str, Any] | None:
    link = next((ln for ln in doc.get("links") or [] if ln.get("rel") == "next"), None)
    if link is None or not link.get("href"):
        return None
    href = urljoin(url, link["href"])
    method = str(link.get("method", "GET")).upper()
    if method == "POST":
        body = dict(link.get("body") or {})
        if link.get("merge"):
            body = {**(cursor.get("body") or {}), **body}
        return {"method": "POST", "url": href, "body": body}
    return {"method": "GET", "url": href}


def _as_query(body: Mapping[str, Any]) -> dict[str, str]:
    import orjson

    out: dict[str, str] = {}
    for k, v in body.items():
        if k == "bbox" or k == "collections" or k == "ids":
            out[k] = ",".join(str(x) for x in v)
        elif k == "sortby":
            out[k] = ",".join(("-" if s["direction"] == "desc" else "+") + s["field"] for s in v)
        elif isinstance(v, dict | list):
            out[k] = orjson.dumps(v).decode()
        else:
            out[k] = str(v)
    return out
