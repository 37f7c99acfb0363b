"""Thematic apps from the SDK (``/apps``): bundles of collections, services, layers and areas,
and their portable export/import (docs/apps.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from gep.client.errors import ArgumentError
from gep.client.transport import Transport


def _app_path(app_id: str) -> str:
    if not isinstance(app_id, str) or not app_id.strip():
        raise ArgumentError("app_id", "app_id must be a non-empty app id")
    return "/apps/" + quote(app_id, safe="")


class AppsMixin(Transport):
    """``GepClient``'s thematic-app methods. Each answers the app as the server resolves it
    for the caller (``bbox``, ``layers`` with tile URLs, ``services`` in order, ``areas`` as
    GeoJSON, ``missing``); a refused document raises with every problem in
    ``error.problem["problems"]``."""

    def apps(self) -> list[dict[str, Any]]:
        """The apps you may see (yours, your groups', public ones, and "My data uploads")."""
        return list(self._json(self.http.get("/apps"))["apps"])

    def app(self, app_id: str) -> dict[str, Any]:
        """One app, resolved."""
        return dict(self._json(self.http.get(_app_path(app_id))))

    def create_app(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Create an app from its document (title, collections, services, layers…)."""
        return dict(self._json(self.http.post("/apps", json=doc)))

    def edit_app(self, app_id: str, **changes: Any) -> dict[str, Any]:
        """Change members of an app (a merge patch: ``title=…``, ``layers=[…]``)."""
        return dict(self._json(self.http.patch(_app_path(app_id), json=changes)))

    def delete_app(self, app_id: str) -> None:
        """Delete an app (the collections, services and areas it names stay)."""
        self._json(self.http.delete(_app_path(app_id)))

    def share_app(self, app_id: str, visibility: str) -> dict[str, Any]:
        """Share an app: ``private``, ``group:<name>`` or ``public``."""
        path = _app_path(app_id) + "/visibility"
        return dict(self._json(self.http.patch(path, json={"visibility": visibility})))

    def export_app(self, app_id: str) -> dict[str, Any]:
        """The app as one portable document, for :meth:`import_app` on another GEP."""
        return dict(self._json(self.http.get(_app_path(app_id) + "/export")))

    def import_app(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Import a portable document; refused whole when anything it needs is missing here."""
        return dict(self._json(self.http.post("/apps/import", json=doc)))
