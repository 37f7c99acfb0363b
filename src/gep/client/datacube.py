"""Results as a data cube: STAC items loaded into ``xarray`` by odc-stac, where it is installed
(``pip install 'gep-client[xarray]'``).

GEP's items carry what odc-stac needs (``proj:*`` on each asset, a datetime per item), so no CRS,
resolution or time hint is passed (tests/tiles/test_datacube_clients.py shows it for the
services' results). GDAL reads the pixels itself, over HTTP, and cannot send the SDK's token: a
client with a token gives it a signed, expiring URL of each asset it reads instead (odc-stac's
``patch_url``: only the assets loaded are signed), so private results load as public ones do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gep.client.errors import ArgumentError, MissingDependency


def load_odc() -> tuple[Any, Any]:
    """odc.stac and pystac, or :class:`MissingDependency` saying what to install."""
    try:
        import odc.stac
        import pystac
    except ImportError:
        raise MissingDependency("odc-stac", "xarray", "to_xarray()") from None
    return odc.stac, pystac


def signer(client: Any, expires_in: int = 3600) -> Any:
    """``href → signed href`` for the GEP server's asset URLs (others unchanged)."""
    base = urlsplit(client.base_url)
    cache: dict[str, str] = {}

    def sign(href: str) -> str:
        parts = urlsplit(href)
        segments = parts.path.split("/")
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or "assets" not in segments:
            return href
        if href not in cache:
            answer = client._json(
                client.http.get(href + "/signed-url", params={"expires_in": expires_in})
            )
            cache[href] = str(answer["href"])
        return cache[href]

    return sign


def as_items(client: Any, target: Any) -> list[dict[str, Any]]:
    """STAC item dicts from a Job, a Batch, an ItemCollection, an item or a list of items (or
    of pystac Items)."""
    from gep.client.jobs import Batch, Job

    if isinstance(target, Job):
        return list(target.items())
    if isinstance(target, Batch):
        return [i for job in target.succeeded for i in job.items()]
    if isinstance(target, Mapping):
        if target.get("type") == "Feature":
            return [dict(target)]
        if target.get("type") == "FeatureCollection":
            return [dict(f) for f in target.get("features") or []]
        raise ArgumentError("results", "a dict to load is a STAC item or a FeatureCollection")
    if hasattr(target, "to_dict") and not isinstance(target, list | tuple):
        return [dict(target.to_dict())]
    if isinstance(target, str) and client is not None:
        return list(client.job_items(target))
    try:
        items = [i.to_dict() if hasattr(i, "to_dict") else dict(i) for i in target]
    except (TypeError, ValueError):
        raise ArgumentError(
            "results", "to_xarray loads a Job, a Batch, search results or STAC items"
        ) from None
    return items


def to_xarray(client: Any, target: Any, **odc_kwargs: Any) -> Any:
    """``odc.stac.load`` of the items ``target`` stands for (see :func:`as_items`)."""
    odc_stac, pystac = load_odc()
    items = as_items(client, target)
    if not items:
        raise ArgumentError("results", "there are no items to load")
    if client is not None and client.authenticated and "patch_url" not in odc_kwargs:
        odc_kwargs["patch_url"] = signer(client)
    return odc_stac.load([pystac.Item.from_dict(i) for i in items], **odc_kwargs)
