"""CORS on the whole API, so that browser clients on other origins (a web map, a notebook, a
STAC browser) can call it and read the headers range reads and created objects need.

``GEP_CORS_ORIGINS='*'`` (the default) lets any origin call without credentials: the API's
authentication is a bearer token the page sends itself, which CORS does not restrict, while
the session cookie is never shared with another origin. Named origins also get credentials
(the cookie), which a wildcard must never have. Empty turns CORS off (same-origin only).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

#: headers a browser page may read from answers (by default it sees only the "simple" ones)
EXPOSED = [
    "ETag",
    "Content-Range",
    "Accept-Ranges",
    "Content-Length",
    "Last-Modified",
    "Location",
    "Retry-After",
    "Preference-Applied",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def install_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer preflights and mark answers for ``origins`` (``*`` among them: any origin)."""
    if not origins:
        return
    wildcard = "*" in origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else list(origins),
        allow_credentials=not wildcard,
        allow_methods=METHODS,
        allow_headers=["*"],  # preflights echo what they ask for (Authorization, Range…)
        expose_headers=EXPOSED,
        max_age=600,
    )
