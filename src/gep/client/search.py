"""Finding data from the SDK: STAC item search (with the gazetteer's places), the gazetteer
itself, and interferometric pair, stack and network search (``/stac/search``, ``/gazetteer``,
``/insar``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from gep.client import checks
from gep.client.errors import ArgumentError
from gep.client.transport import Transport

#: the orders ``/insar/pairs`` knows (each may take a leading ``-``)
PAIR_ORDERS = ("btemp", "bperp", "datetime", "overlap")


class ItemCollection(Sequence[dict[str, Any]]):
    """The items a search found (GeoJSON Feature dicts, as the STAC API answers them), in the
    server's order, every page followed up to ``max_items``.

    It is a sequence (``len``, indexing, iteration) of plain dicts so that it needs nothing but
    the standard library; :meth:`to_pystac` and :meth:`to_xarray` convert on demand."""

    def __init__(
        self,
        features: Sequence[dict[str, Any]],
        *,
        matched: int | None = None,
        client: Any = None,
    ) -> None:
        self.features: list[dict[str, Any]] = list(features)
        #: ``numberMatched`` of the search (how many exist, not how many were fetched), when
        #: the server counted them
        self.matched = matched
        self._client = client

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> ItemCollection: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | ItemCollection:
        if isinstance(index, slice):
            return ItemCollection(self.features[index], matched=self.matched, client=self._client)
        return self.features[index]

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.features)

    def __repr__(self) -> str:
        return f"<ItemCollection {len(self)} items of {self.matched} matched>"

    @property
    def ids(self) -> list[str]:
        return [str(f.get("id")) for f in self.features]

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection of the items (what QGIS, geopandas, folium read)."""
        doc: dict[str, Any] = {"type": "FeatureCollection", "features": list(self.features)}
        if self.matched is not None:
            doc["numberMatched"] = self.matched
        return doc

    def to_pystac(self) -> Any:
        """A ``pystac.ItemCollection`` (needs pystac)."""
        from gep.client.errors import MissingDependency

        try:
            import pystac
        except ImportError:
            raise MissingDependency("pystac", "xarray", "ItemCollection.to_pystac()") from None
        return pystac.ItemCollection([pystac.Item.from_dict(f) for f in self.features])

    def to_xarray(self, **odc_kwargs: Any) -> Any:
        """The items as an ``xarray.Dataset`` through odc-stac (see ``GepClient.to_xarray``)."""
        if self._client is None:
            from gep.client.datacube import to_xarray

            return to_xarray(None, self.features, **odc_kwargs)
        return self._client.to_xarray(self, **odc_kwargs)


class SearchMixin(Transport):
    """``GepClient``'s search methods."""

    def search(
        self,
        *,
        collections: str | Sequence[str] | None = None,
        ids: str | Sequence[str] | None = None,
        bbox: Sequence[float] | None = None,
        intersects: Any = None,
        datetime: Any = None,
        place: str | None = None,
        place_buffer: float | None = None,
        filter: Mapping[str, Any] | str | None = None,
        query: Mapping[str, Any] | None = None,
        sortby: str | Sequence[Any] | None = None,
        q: str | Sequence[str] | None = None,
        fields: Mapping[str, Any] | Sequence[str] | None = None,
        limit: int = 100,
        max_items: int | None = None,
    ) -> ItemCollection:
        """STAC item search (``POST /stac/search``), following ``next`` links until the
        results or ``max_items`` run out. Only what the caller may see is found.

        ``collections``/``ids``: one or a list; ``bbox``: [w, s, e, n]; ``intersects``: a GeoJSON
        geometry (or a shapely one); ``datetime``: an RFC 3339 instant or interval (``"2024-01-01/
        .."``), a ``datetime``, or a (start, end) pair with None for an open end; ``place``: a
        gazetteer name (a volcano, place, plate or named area: ``place="Etna"``) as the area,
        grown by ``place_buffer`` km; ``filter``: CQL2 as JSON (a dict) or text (a string);
        ``query``: the query extension; ``sortby``: ``"-datetime"`` or a list; ``q``: free
        text; ``fields``: ``{"include": [...], "exclude": [...]}`` or ``["id", "-assets"]``;
        ``limit``: items per page; ``max_items``: stop after this many."""
        body = search_body(
            collections=collections,
            ids=ids,
            bbox=bbox,
            intersects=intersects,
            datetime=datetime,
            place=place,
            place_buffer=place_buffer,
            filter=filter,
            query=query,
            sortby=sortby,
            q=q,
            fields=fields,
            limit=limit,
            max_items=max_items,
        )
        features: list[dict[str, Any]] = []
        matched: int | None = None
        url: str = "/stac/search"
        while True:
            page = self._json(self.http.post(url, json=body))
            if matched is None and isinstance(page.get("numberMatched"), int):
                matched = int(page["numberMatched"])
            features.extend(page.get("features") or [])
            if max_items is not None and len(features) >= max_items:
                del features[max_items:]
                break
            nxt = next(
                (link for link in page.get("links") or [] if link.get("rel") == "next"), None
            )
            if nxt is None or not page.get("features"):
                break
            url = str(nxt["href"])
            if isinstance(nxt.get("body"), dict):
                body = nxt["body"] if not nxt.get("merge") else {**body, **nxt["body"]}
        return ItemCollection(features, matched=matched, client=self)

    def item(self, collection: str, item_id: str) -> dict[str, Any]:
        """One STAC item (its assets' hrefs are GEP URLs)."""
        from urllib.parse import quote

        c, i = (
            quote(checks.text("collection", collection), safe=""),
            quote(checks.text("item_id", item_id), safe=""),
        )
        return dict(self._json(self.http.get(f"/stac/collections/{c}/items/{i}")))

    def collections(self) -> list[dict[str, Any]]:
        """The STAC collections the caller may see."""
        return list(self._json(self.http.get("/stac/collections"))["collections"])

    def gazetteer(
        self, q: str, *, kind: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Places matching a name, best first (GeoJSON features with ``bbox`` and
        ``properties.kind``): volcanoes, places, plates and the named areas the caller sees.
        An unknown name is :class:`~gep.client.errors.NotFound`, its detail listing close
        names."""
        params: dict[str, Any] = {
            "q": checks.text("q", q),
            "limit": checks.integer("limit", limit, low=1, high=100),
        }
        if kind is not None:
            if kind not in ("volcano", "place", "plate", "area"):
                raise ArgumentError("kind", "kind is volcano, place, plate or area")
            params["kind"] = kind
        return list(self._json(self.http.get("/gazetteer/search", params=params))["features"])

    # ------------------------------------------------------------------ interferometry
    def pairs(
        self,
        reference: str | Mapping[str, Any],
        *,
        max_bperp: float | None = None,
        max_btemp: float | None = None,
        min_overlap: float = 0.5,
        sortby: str = "btemp",
        limit: int = 100,
    ) -> dict[str, Any]:
        """Secondaries that pair with ``reference`` (``"collection/item"`` or an item dict),
        with ``bperp`` (m), ``btemp`` (days), ``overlap`` and each pair's ``dinsar_inputs``
        ready for :meth:`submit`: ``{"pairs": [...], "numberMatched", ...}``."""
        params: dict[str, Any] = {
            "reference": item_ref("reference", reference),
            "min_overlap": checks.number("min_overlap", min_overlap, low=0, high=1),
            "limit": checks.integer("limit", limit, low=1, high=checks.MAX_LIMIT),
        }
        if sortby.lstrip("-") not in PAIR_ORDERS:
            raise ArgumentError(
                "sortby", f"sortby is one of {', '.join(PAIR_ORDERS)} (- first for descending)"
            )
        params["sortby"] = sortby
        for name, value in (("max_bperp", max_bperp), ("max_btemp", max_btemp)):
            if value is not None:
                params[name] = checks.number(name, value, low=0)
        return dict(self._json(self.http.get("/insar/pairs", params=params)))

    def stack(
        self,
        aoi: Sequence[float] | Mapping[str, Any] | None = None,
        *,
        place: str | None = None,
        datetime: Any = None,
        collections: str | Sequence[str] | None = None,
        relative_orbit: int | None = None,
        reference: str | None = None,
        min_coverage: float = 0.5,
    ) -> dict[str, Any]:
        """The acquisitions of one track over an area with their baselines to a reference
        (``/insar/stack``): ``{"track", "reference", "acquisitions": [{id, datetime, bperp,
        btemp...}]}``. The area is ``aoi`` ([w, s, e, n] or a GeoJSON geometry) or ``place`` (a
        gazetteer name, resolved first); the track is ``relative_orbit`` or the best-covering
        one."""
        body = stack_body(
            self,
            aoi=aoi,
            place=place,
            datetime=datetime,
            collections=collections,
            relative_orbit=relative_orbit,
            reference=reference,
            min_coverage=min_coverage,
        )
        return dict(self._json(self.http.post("/insar/stack", json=body)))

    def network(
        self,
        stack: Mapping[str, Any] | None = None,
        *,
        max_btemp: float,
        max_bperp: float,
        min_connections: int = 2,
        **stack_params: Any,
    ) -> dict[str, Any]:
        """A small-baseline network for SBAS (``/insar/network``): ``{"pairs": [{reference,
        secondary, btemp, bperp}...], ...}``. ``stack`` is a stack :meth:`stack` answered
        (its acquisitions are sent), or the stack's parameters as a dict or as keywords
        (``aoi=…, datetime=…``: the server searches the stack and answers it too)."""
        body: dict[str, Any] = {
            "max_btemp": checks.number("max_btemp", max_btemp, low=0),
            "max_bperp": checks.number("max_bperp", max_bperp, low=0),
            "min_connections": checks.integer("min_connections", min_connections, low=1),
        }
        if stack is not None and stack_params:
            raise ArgumentError("stack", "give the stack or its parameters, not both")
        if stack is not None and "acquisitions" in stack:
            acqs = stack["acquisitions"]
            if not isinstance(acqs, list) or not acqs:
                raise ArgumentError("stack", "the stack has no acquisitions")
            body["acquisitions"] = [
                {k: a[k] for k in ("id", "btemp", "bperp", "collection") if k in a} for a in acqs
            ]
        elif stack is not None:
            body["stack"] = stack_body(self, **dict(stack))
        elif stack_params:
            body["stack"] = stack_body(self, **stack_params)
        else:
            raise ArgumentError("stack", "give a stack (or its parameters: aoi=…, datetime=…)")
        return dict(self._json(self.http.post("/insar/network", json=body)))


def item_ref(name: str, value: Any) -> str:
    """``"collection/item"`` of an item dict, or the reference string itself."""
    if isinstance(value, Mapping):
        if not isinstance(value.get("collection"), str) or not isinstance(value.get("id"), str):
            raise ArgumentError(name, f"{name}: an item dict needs its collection and id")
        return f"{value['collection']}/{value['id']}"
    ref = checks.text(name, value)
    if "/" not in ref:
        raise ArgumentError(name, f"{name} is 'collection/item' or an item's URL, not {ref!r}")
    return ref


def stack_body(
    client: Any,
    *,
    aoi: Any = None,
    place: str | None = None,
    datetime: Any = None,
    collections: Any = None,
    relative_orbit: int | None = None,
    reference: str | None = None,
    min_coverage: float = 0.5,
) -> dict[str, Any]:
    """The body of ``/insar/stack`` (checked; a ``place`` resolved through the gazetteer)."""
    if (aoi is None) == (place is None):
        raise ArgumentError("aoi", "give aoi ([w, s, e, n] or a GeoJSON geometry) or place")
    body: dict[str, Any] = {
        "min_coverage": checks.number("min_coverage", min_coverage, low=0, high=1)
    }
    if aoi is not None:
        body["aoi"] = checks.area("aoi", aoi)
    if datetime is not None:
        body["datetime"] = checks.datetime_interval("datetime", datetime)
    if collections is not None:
        body["collections"] = checks.strings("collections", collections)
    if relative_orbit is not None:
        body["relative_orbit"] = checks.integer("relative_orbit", relative_orbit, low=1)
    if reference is not None:
        body["reference"] = checks.text("reference", reference)
    if place is not None:
        best = client.gazetteer(checks.text("place", place), limit=1)[0]
        polygon = (best.get("properties") or {}).get("kind") in ("plate", "area")
        body["aoi"] = best["geometry"] if polygon else best["bbox"]  # as the server's place
    return body


def search_body(
    *,
    collections: Any = None,
    ids: Any = None,
    bbox: Any = None,
    intersects: Any = None,
    datetime: Any = None,
    place: Any = None,
    place_buffer: Any = None,
    filter: Any = None,
    query: Any = None,
    sortby: Any = None,
    q: Any = None,
    fields: Any = None,
    limit: Any = 100,
    max_items: Any = None,
) -> dict[str, Any]:
    """The body of ``POST /stac/search``, every argument checked (:class:`ArgumentError`
    naming it) before anything is sent."""
    body: dict[str, Any] = {}
    if collections is not None:
        body["collections"] = checks.strings("collections", collections)
    if ids is not None:
        body["ids"] = checks.strings("ids", ids)
    areas = [n for n, v in (("bbox", bbox), ("intersects", intersects), ("place", place)) if v]
    if len(areas) > 1:
        raise ArgumentError(areas[-1], f"give one of {', '.join(areas)}, not several")
    if bbox is not None:
        body["bbox"] = checks.bbox("bbox", bbox)
    if intersects is not None:
        body["intersects"] = checks.geometry("intersects", intersects)
    if place is not None:
        body["place"] = checks.text("place", place)
    if place_buffer is not None:
        if place is None:
            raise ArgumentError("place_buffer", "place_buffer grows a place: give place too")
        body["place_buffer"] = checks.number("place_buffer", place_buffer, low=0, high=500)
    if datetime is not None:
        body["datetime"] = checks.datetime_interval("datetime", datetime)
    if filter is not None:
        if isinstance(filter, Mapping):
            body["filter"], body["filter-lang"] = dict(filter), "cql2-json"
        elif isinstance(filter, str) and filter.strip():
            body["filter"], body["filter-lang"] = filter, "cql2-text"
        else:
            raise ArgumentError("filter", "filter is CQL2 as JSON (a dict) or as text (a str)")
    if query is not None:
        if not isinstance(query, Mapping):
            raise ArgumentError("query", 'query is a dict: {"eo:cloud_cover": {"lt": 10}}')
        body["query"] = dict(query)
    if sortby is not None:
        body["sortby"] = checks.sortby("sortby", sortby)
    if q is not None:
        body["q"] = checks.strings("q", q)
    if fields is not None:
        body["fields"] = _fields(fields)
    body["limit"] = checks.integer("limit", limit, low=1, high=checks.MAX_LIMIT)
    if max_items is not None:
        checks.integer("max_items", max_items, low=1)
        body["limit"] = min(body["limit"], max_items)
    return body


def _fields(value: Any) -> dict[str, list[str]]:
    if isinstance(value, Mapping):
        if set(value) - {"include", "exclude"}:
            raise ArgumentError("fields", "fields has include and exclude lists only")
        return {k: checks.strings("fields", v) for k, v in value.items()}
    names = checks.strings("fields", value)
    return {
        "include": [n.lstrip("+") for n in names if not n.startswith("-")],
        "exclude": [n[1:] for n in names if n.startswith("-")],
    }
