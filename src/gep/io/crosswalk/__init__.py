"""The crosswalk from archive records to STAC 1.1 items: one home for every archive's mapping.

Why a package: GEP harvests the same products through several archives (ASF and CMR, CDSE and
CREODIAS OData, OpenSearch catalogues), and a product must get the same STAC fields whichever
door it came through. The pieces every mapping needs are therefore written once here:

- :mod:`.values`: the ways archives write "no value", numbers, checksums (multihash),
  polarisations and media types;
- :mod:`.times`: the one parser of archive times (RFC 3339 / ISO 8601 variants); items are
  written with the one formatter, :func:`gep.core.timeutil.format_rfc3339`;
- :mod:`.footprint`: the one footprint normaliser (repair, the antimeridian rule, the checks
  the catalogue will make).

Then one module per kind of record: :mod:`.asf_records` (ASF GeoJSON, jsonlite and CMR UMM-G
read as ASF records) and :mod:`.asf` (ASF record → item); :mod:`.eo` (the neutral
:class:`~.eo.EoRecord` → item) with :mod:`.opensearch` (Atom entries and GeoJSON features →
record) and :mod:`.odata` (OData products → record). Everything here is pure: no network, no
database; the harvesters in :mod:`gep.harvest` own paging, HTTP and checkpoints.
"""
