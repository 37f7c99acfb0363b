"""OpenSearch 1.1 (with the Geo, Time, EO and Parameters extensions) translated to a search.

OpenSearch clients (FedEO, ESA and CEOS tools, GIS plug-ins) speak in flat query parameters with
their own conventions: ranges such as ``[10,20[``, case-free platform names, WKT geometries and
1-based offsets. Translating them here into the same :class:`~gep.catalog.search.SearchRequest`
the STAC API uses means there is one search engine and two front doors, so both answer
identically.

No HTTP here: the API layer renders the responses (Atom, GeoJSON). The modules, by role:

- :mod:`.parameters` — the one parameter table (namespaces, the core and EO parameters). Both the
  translation and the description document are derived from it, so the two cannot drift apart;
  that is the seam the package is cut along.
- :mod:`.translate` — request parameters → :class:`~.translate.OpenSearchQuery` (a
  ``SearchRequest`` plus the paging and what was applied or ignored), and the value parsers
  (ranges, WKT, point and radius, time relations).
- :mod:`.description` — the description document of one collection.
- :mod:`.xmlwriter` — the one XML serialiser, shared by the description document and the API's
  Atom feed.
"""
