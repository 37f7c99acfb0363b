"""The Geobrowser at ``/ui/`` (the static app ``gep.web`` builds) and its one dynamic file,
``/ui/config.json``: what the operator configured that the page cannot learn from the API
(the online basemap, whether an OpenID Connect provider signs users in).

The app talks to the API only, as any client does; nothing here reads a store.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

import gep
from gep import web
from gep.api.services import services
from gep.core.errors import ServiceUnavailable

router = APIRouter(include_in_schema=False)

NOT_BUILT = (
    "the map app is not built on this server: run 'make ui' (npm) in the GEP checkout, then reload"
)


class _AppFiles(StaticFiles):
    """The built app; ``index.html`` is never cached (a rebuilt app is seen at the next load)
    while the bundle may be revalidated by its ETag."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not web.built():
            raise ServiceUnavailable(NOT_BUILT, field="ui")
        response = await super().get_response(path, scope)
        if path in ("", ".", "index.html"):
            response.headers["Cache-Control"] = "no-cache"
        return response


@router.api_route("/ui", methods=["GET", "HEAD"])
def ui_root(request: Request) -> RedirectResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}/ui/", status_code=307)


@router.get("/ui/config.json")
def ui_config(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    basemap = (
        {"url": settings.ui_basemap_url, "attribution": settings.ui_basemap_attribution}
        if settings.ui_basemap_url
        else None
    )
    return {
        "title": "GEP Geobrowser",
        "version": gep.__version__,
        "online_basemap": basemap,
        "oidc": bool(settings.oidc_issuer and settings.oidc_client_id),
    }


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/ui", _AppFiles(directory=web.DIST, html=True, check_dir=False), name="ui")
