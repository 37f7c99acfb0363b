"""Accounts, credits, harvesting, the gateway and retention from the SDK (``/accounts``,
``/harvest``, ``/gateway``, ``/retention``): what the CLI's account and operator commands send,
so that they work against a remote GEP exactly as against the one on this machine.

Each method checks its arguments before sending anything (``ArgumentError`` names the one at
fault); what only the server can judge (a user name taken, a source's URL) comes back as the
server's problem, raised as the exception of its status (gep.client.errors)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from gep.client.errors import ArgumentError, GepTimeout
from gep.client.transport import Transport

#: what ``edit_user(monthly_allowance=…)`` sends when the caller did not say (the member absent)
_KEEP: Any = object()
#: a harvest run in one of these has ended
_RUN_FINAL = ("succeeded", "failed", "interrupted")
_ROLES = ("user", "developer", "admin")
_PRICE_PARTS = ("per_job", "per_input", "per_km2", "per_cpu_s", "estimate_cpu_s")


def _seg(value: str, field: str) -> str:
    """``value`` as one path segment: a name must be given (an empty one would change the
    route the request reaches)."""
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(field, f"{field} must be a non-empty name")
    return quote(value, safe="")


def _amount(value: Any, field: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ArgumentError(field, f"{field} must be a number of credits")
    if value < 0 or (positive and value == 0):
        raise ArgumentError(field, f"{field} must be {'above' if positive else 'at least'} 0")
    return float(value)


def _limit(value: int, field: str = "limit", most: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ArgumentError(field, f"{field} must be a whole number from 1 to {most}")
    return value


class AdminMixin(Transport):
    """``GepClient``'s account, credit, harvest, gateway and retention methods."""

    # ------------------------------------------------------------------ the caller
    def me(self) -> dict[str, Any]:
        """The caller's account: name, role, groups and ``credits`` (balance, held, available)."""
        return dict(self._json(self.http.get("/accounts/me")))

    def tokens(self) -> list[dict[str, Any]]:
        """The caller's API tokens (ids, names, expiry, last use; never their secrets)."""
        return list(self._json(self.http.get("/accounts/tokens"))["tokens"])

    def create_token(
        self, name: str, *, expires_in_days: float | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """A new API token, for the caller or (an administrator) for ``user``; the answer's
        ``token`` is the secret itself, shown this once (only its hash is kept)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ArgumentError("name", "a token needs a name of 1-100 characters")
        body: dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            body["expires_in_days"] = _amount(expires_in_days, "expires_in_days", positive=True)
        path = (
            "/accounts/tokens" if user is None else f"/accounts/users/{_seg(user, 'user')}/tokens"
        )
        return dict(self._json(self.http.post(path, json=body)))

    def revoke_token(self, token_id: str) -> None:
        """Revoke one of the caller's tokens (an administrator: anyone's) at once."""
        r = self.http.delete(f"/accounts/tokens/{_seg(token_id, 'token_id')}")
        if r.status_code != 204:
            self._json(r)

    # ------------------------------------------------------------------ users (administrators)
    def users(self) -> list[dict[str, Any]]:
        """Every user with their ``credits`` (administrators)."""
        return list(self._json(self.http.get("/accounts/users"))["users"])

    def create_user(
        self,
        name: str,
        *,
        role: str = "user",
        password: str | None = None,
        email: str | None = None,
        groups: Sequence[str] = (),
        credits: float | None = None,
        monthly_allowance: float | None = None,
        token: bool = False,
    ) -> dict[str, Any]:
        """Create a user (administrators); new ``groups`` are created. ``credits``: a first
        grant; ``token``: the answer's ``token`` is a new API token for them, shown once."""
        _seg(name, "name")
        if role not in _ROLES:
            raise ArgumentError("role", f"role is one of {', '.join(_ROLES)}, not '{role}'")
        if isinstance(groups, str):
            raise ArgumentError("groups", "groups is a list of group names")
        body: dict[str, Any] = {"name": name, "role": role, "groups": list(groups)}
        if password is not None:
            body["password"] = password
        if email is not None:
            body["email"] = email
        if credits is not None:
            body["credits"] = _amount(credits, "credits")
        if monthly_allowance is not None:
            body["monthly_allowance"] = _amount(monthly_allowance, "monthly_allowance")
        if token:
            body["token"] = True
        return dict(self._json(self.http.post("/accounts/users", json=body)))

    def edit_user(
        self,
        name: str,
        *,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        monthly_allowance: float | None = _KEEP,
    ) -> dict[str, Any]:
        """Change what is given (administrators); ``monthly_allowance=None`` removes the
        user's own allowance (their groups' applies), leaving it out keeps it."""
        path = f"/accounts/users/{_seg(name, 'name')}"
        if role is not None and role not in _ROLES:
            raise ArgumentError("role", f"role is one of {', '.join(_ROLES)}, not '{role}'")
        body: dict[str, Any] = {
            k: v
            for k, v in {"role": role, "password": password, "disabled": disabled}.items()
            if v is not None
        }
        if monthly_allowance is not _KEEP:
            body["monthly_allowance"] = (
                None
                if monthly_allowance is None
                else _amount(monthly_allowance, "monthly_allowance")
            )
        if not body:
            raise ArgumentError("name", "nothing to change: give a role, password, state…")
        return dict(self._json(self.http.patch(path, json=body)))

    # ------------------------------------------------------------------ groups
    def groups(self) -> list[dict[str, Any]]:
        """The caller's groups (every group for an administrator), with their members."""
        return list(self._json(self.http.get("/accounts/groups"))["groups"])

    def group(self, name: str) -> dict[str, Any]:
        """A group and its members (its members and administrators only)."""
        return dict(self._json(self.http.get(f"/accounts/groups/{_seg(name, 'name')}")))

    def create_group(
        self,
        name: str,
        *,
        description: str | None = None,
        monthly_allowance: float | None = None,
    ) -> dict[str, Any]:
        """A new group (administrators); ``monthly_allowance``: each member's monthly credits."""
        _seg(name, "name")
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        if monthly_allowance is not None:
            body["monthly_allowance"] = _amount(monthly_allowance, "monthly_allowance")
        return dict(self._json(self.http.post("/accounts/groups", json=body)))

    def add_member(self, group: str, user: str) -> None:
        """Put ``user`` in ``group`` (administrators)."""
        path = f"/accounts/groups/{_seg(group, 'group')}/members/{_seg(user, 'user')}"
        r = self.http.put(path)
        if r.status_code != 204:
            self._json(r)

    def remove_member(self, group: str, user: str) -> None:
        """Take ``user`` out of ``group`` (administrators)."""
        path = f"/accounts/groups/{_seg(group, 'group')}/members/{_seg(user, 'user')}"
        r = self.http.delete(path)
        if r.status_code != 204:
            self._json(r)

    # ------------------------------------------------------------------ credits
    def credits(self, user: str | None = None) -> dict[str, Any]:
        """Credits (balance, held, available, allowance): the caller's, or (an administrator)
        ``user``'s."""
        if user is None:
            return dict(self.me()["credits"])
        _seg(user, "user")
        for u in self.users():
            if u["name"] == user:
                return dict(u["credits"])
        from gep.client.errors import NotFound

        raise NotFound(404, {"detail": f"no user named '{user}'", "field": "user"})

    def grant_credits(self, user: str, amount: float, *, note: str | None = None) -> dict[str, Any]:
        """A top-up (administrators), written to the ledger; the answer is the new balance."""
        _seg(user, "user")
        body: dict[str, Any] = {"user": user, "amount": _amount(amount, "amount", positive=True)}
        if note is not None:
            body["note"] = note
        return dict(self._json(self.http.post("/accounts/credits", json=body)))

    def ledger(
        self,
        *,
        user: str | None = None,
        job: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Ledger rows, newest first: the caller's own; an administrator's are everyone's, or
        ``user``'s. ``job``: only the rows of that job."""
        params: dict[str, Any] = {"limit": _limit(limit), "offset": offset}
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ArgumentError("offset", "offset must be a whole number, 0 or more")
        if user is not None:
            params["user"] = user
        if job is not None:
            params["job"] = job
        return list(self._json(self.http.get("/accounts/ledger", params=params))["entries"])

    def usage(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        user: str | None = None,
        csv: bool = False,
    ) -> Any:
        """Jobs, CPU-seconds, wall time and bytes per user, service and provider (``usage``),
        and data read and written per user, source and collection with its cost (``data``),
        for jobs that ended in [start, end] (RFC 3339 or dates). ``csv``: the first table as
        CSV text."""
        params: dict[str, Any] = {"format": "csv" if csv else "json"}
        for key, value in (("from", start), ("to", end), ("user", user)):
            if value is not None:
                params[key] = value
        r = self.http.get("/accounts/usage", params=params)
        if csv and r.status_code < 400:
            return r.text
        return dict(self._json(r))

    def price(self, process_id: str) -> dict[str, Any]:
        """A service's price in credits (per job, input, km², CPU-second)."""
        return dict(self._json(self.http.get(f"/processes/{_seg(process_id, 'process_id')}/price")))

    def set_price(self, process_id: str, **parts: float) -> dict[str, Any]:
        """Change the parts given of a service's price (administrators): ``per_job``,
        ``per_input``, ``per_km2``, ``per_cpu_s``, ``estimate_cpu_s``; the others keep their
        value."""
        for key, value in parts.items():
            if key not in _PRICE_PARTS:
                raise ArgumentError(key, f"a price part is one of {', '.join(_PRICE_PARTS)}")
            _amount(value, key)
        current = self.price(process_id)
        body = {k: current.get(k, 0) for k in _PRICE_PARTS if k in current}
        body.update(parts)
        path = f"/processes/{_seg(process_id, 'process_id')}/price"
        return dict(self._json(self.http.put(path, json=body)))

    def data_prices(self) -> dict[str, dict[str, float]]:
        """The price of data read and written per collection, in cents per GB ('*': the
        collections without one)."""
        return dict(self._json(self.http.get("/accounts/data-prices")))

    def set_data_price(
        self, collection: str, *, read: float | None = None, write: float | None = None
    ) -> dict[str, Any]:
        """Set the parts given of a collection's data price (administrators; cents per GB);
        the other part keeps its value."""
        path = f"/accounts/data-prices/{_seg(collection, 'collection')}"
        if read is None and write is None:
            raise ArgumentError("read", "give read or write (cents per GB)")
        body = dict(self.data_prices().get(collection) or {})
        if read is not None:
            body["read_cents_per_gb"] = _amount(read, "read")
        if write is not None:
            body["write_cents_per_gb"] = _amount(write, "write")
        return dict(self._json(self.http.put(path, json=body)))

    def remove_data_price(self, collection: str) -> None:
        """Remove a collection's data price (administrators)."""
        r = self.http.delete(f"/accounts/data-prices/{_seg(collection, 'collection')}")
        if r.status_code != 204:
            self._json(r)

    # ------------------------------------------------------------------ harvesting
    def harvest_sources(self) -> list[dict[str, Any]]:
        """The harvest sources the caller may see, with their schedule and checkpoint."""
        return list(self._json(self.http.get("/harvest/sources"))["sources"])

    def harvest_source(self, name: str) -> dict[str, Any]:
        """A source and its latest runs."""
        return dict(self._json(self.http.get(f"/harvest/sources/{_seg(name, 'name')}")))

    def add_harvest_source(
        self,
        name: str,
        kind: str,
        url: str,
        collection: str,
        *,
        params: dict[str, Any] | None = None,
        interval_s: int | None = None,
        visibility: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Register a source (administrators; the server checks the kind, URL and parameters
        first); ``interval_s``: ``gep serve`` runs it that often."""
        for field, value in (("name", name), ("kind", kind), ("url", url)):
            if not isinstance(value, str) or not value.strip():
                raise ArgumentError(field, f"{field} is required")
        _seg(collection, "collection")
        if params is not None and not isinstance(params, dict):
            raise ArgumentError("params", "params is a JSON object")
        if interval_s is not None and (
            isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s <= 0
        ):
            raise ArgumentError("interval_s", "interval_s must be a positive whole number")
        body: dict[str, Any] = {"name": name, "kind": kind, "url": url, "collection": collection}
        if params:
            body["params"] = params
        if interval_s is not None:
            body["interval_s"] = interval_s
        if visibility is not None:
            body["visibility"] = visibility
        if replace:
            body["replace"] = True
        return dict(self._json(self.http.post("/harvest/sources", json=body)))

    def remove_harvest_source(self, name: str) -> None:
        """Forget a source (administrators; its items and its log stay)."""
        r = self.http.delete(f"/harvest/sources/{_seg(name, 'name')}")
        if r.status_code != 204:
            self._json(r)

    def harvest_runs(self, name: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The harvest log of a source, newest first."""
        path = f"/harvest/sources/{_seg(name, 'name')}/runs"
        params = {"limit": _limit(limit, most=1000)}
        return list(self._json(self.http.get(path, params=params))["runs"])

    def run_harvest(
        self,
        name: str,
        *,
        full: bool = False,
        max_pages: int | None = None,
        wait: bool = True,
        interval: float = 0.5,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Harvest a source now (administrators), in the server. ``wait``: the run's record
        once it has ended (its status, counts and errors); otherwise the server's answer at
        once (the run goes on). ``full`` ignores the checkpoint; ``max_pages`` stops after that
        many pages, the next run resuming there."""
        path = f"/harvest/sources/{_seg(name, 'name')}"
        params: dict[str, Any] = {"full": str(bool(full)).lower()}
        if max_pages is not None:
            params["max_pages"] = _limit(max_pages, "max_pages", most=1_000_000)
        before = {r["id"] for r in self.harvest_runs(name, limit=50)} if wait else set()
        started = dict(self._json(self.http.post(f"{path}/run", params=params)))
        if not wait:
            return started
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for run in self.harvest_runs(name, limit=5):
                if run["id"] not in before and run["status"] in _RUN_FINAL:
                    return dict(run)
            if deadline is not None and time.monotonic() > deadline:
                raise GepTimeout(
                    0, {"detail": f"harvest of '{name}' still running after {timeout} s"}
                )
            time.sleep(interval)

    def harvest_events(
        self, *, after: int = 0, collection: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """Ingestion events (one per new item the caller may see), oldest first after the
        sequence number ``after``; ``next_after`` is where the next call goes on."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ArgumentError("after", "after must be a sequence number, 0 or more")
        params: dict[str, Any] = {"after": after, "limit": _limit(limit)}
        if collection is not None:
            params["collection"] = collection
        return dict(self._json(self.http.get("/harvest/events", params=params)))

    # ------------------------------------------------------------------ the data gateway
    def mirrors(self) -> list[dict[str, Any]]:
        """Every mirror, in the order retrieval tries them (administrators)."""
        return list(self._json(self.http.get("/gateway/mirrors"))["mirrors"])

    def put_mirror(
        self,
        name: str,
        kind: str,
        url: str,
        collections: Iterable[str],
        *,
        priority: int = 100,
        match_prefix: str = "",
        endpoint_url: str = "",
        credentials: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Add a mirror, or replace the one of that name (administrators). ``credentials``
        are references (names of GEP_MIRROR_* variables, an AWS profile), never secrets. The
        answer is the mirror, with ``created`` true when it is new."""
        path = f"/gateway/mirrors/{_seg(name, 'name')}"
        wanted = [collections] if isinstance(collections, str) else list(collections)
        if not wanted:
            raise ArgumentError("collections", "name at least one collection ('*': all)")
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise ArgumentError("priority", "priority must be a whole number, 0 or more")
        body: dict[str, Any] = {
            "kind": kind,
            "url": url,
            "collections": wanted,
            "priority": priority,
            "match_prefix": match_prefix,
            "endpoint_url": endpoint_url,
            "credentials": dict(credentials or {}),
        }
        r = self.http.put(path, json=body)
        return {**dict(self._json(r)), "created": r.status_code == 201}

    def remove_mirror(self, name: str) -> None:
        """Remove a mirror (administrators; what it served stays cached)."""
        r = self.http.delete(f"/gateway/mirrors/{_seg(name, 'name')}")
        if r.status_code != 204:
            self._json(r)

    def cache_stats(self) -> dict[str, Any]:
        """The cache's counters per source (hits, misses, bytes, evictions) and what it holds
        (administrators)."""
        return dict(self._json(self.http.get("/gateway/stats")))

    def prefetch(self, items: Iterable[str], assets: Iterable[str] = ()) -> dict[str, Any]:
        """Fetch items' (``collection/item``) remote assets into the server's cache now; what
        became of each asset (``queued``, ``cached``, ``local``)."""
        refs = [items] if isinstance(items, str) else list(items)
        if not refs:
            raise ArgumentError("items", "name at least one item as collection/item")
        for ref in refs:
            if not isinstance(ref, str) or ref.count("/") != 1 or "" in ref.split("/"):
                raise ArgumentError("items", f"'{ref}': write an item as collection/item")
        body: dict[str, Any] = {"items": refs}
        keys = [assets] if isinstance(assets, str) else list(assets)
        if keys:
            body["assets"] = keys
        return dict(self._json(self.http.post("/gateway/prefetch", json=body)))

    # ------------------------------------------------------------------ retention
    def run_retention(self, *, dry_run: bool = False) -> dict[str, Any]:
        """One retention sweep now (administrators): the policies, what expired (or, with
        ``dry_run``, would) and how many old results were kept because they are pinned."""
        params = {"dry_run": str(bool(dry_run)).lower()}
        return dict(self._json(self.http.post("/retention/run", params=params)))

    def retention_policies(self) -> dict[str, dict[str, Any]]:
        """Each visible collection's retention policy (``gep:retention``, e.g. ``{"days":
        30}``); collections without one keep their items forever and are not listed."""
        found: dict[str, dict[str, Any]] = {}
        url: str | None = "/stac/collections"
        params: dict[str, Any] | None = {"limit": 1000}
        while url:
            page = self._json(self.http.get(url, params=params))
            for coll in page.get("collections", []):
                policy = coll.get("gep:retention")
                if isinstance(policy, dict):
                    found[str(coll["id"])] = dict(policy)
            url = next(
                (link["href"] for link in page.get("links", []) if link.get("rel") == "next"),
                None,
            )
            params = None
        return found
