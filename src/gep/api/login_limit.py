"""The HTTP side of the login limits: who the client is, and the limits' settings.

The counting itself is :mod:`gep.accounts.login_limits` (in the database, so it holds across
processes and hosts). What this module adds is the client's address, which the limits key on
and which a client must not be able to choose: it is the socket peer, and ``X-Forwarded-For``
or ``Forwarded`` are believed only when that peer is a proxy the operator listed in
``GEP_TRUSTED_PROXIES`` — otherwise anyone could send a new address with every guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gep.accounts.login_limits import LoginFailures, LoginLimits
from gep.core.errors import InvalidInput
from gep.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_proxies(value: str) -> tuple[Network, ...]:
    """``GEP_TRUSTED_PROXIES``: addresses or CIDR networks separated by ','."""
    nets: list[Network] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidInput(
                f"trusted_proxies: '{part}' is not an IP address or network (e.g. 10.0.0.5, "
                "10.0.0.0/8, ::1); host names are not accepted",
                field="trusted_proxies",
            ) from None
    return tuple(nets)


def _ip(text: str) -> Address | None:
    """An address as proxies write it: bare, ``1.2.3.4:port``, ``[v6]`` or ``[v6]:port``."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_for(request: Request) -> list[str]:
    """The hops the proxies recorded, nearest last: X-Forwarded-For, else RFC 7239 Forwarded."""
    xff = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    if any(xff):
        return xff
    hops = []
    for element in (e for v in request.headers.getlist("forwarded") for e in v.split(",")):
        for pair in element.split(";"):
            key, _, val = pair.strip().partition("=")
            if key.lower() == "for":
                hops.append(val)
    return hops


def client_address(request: Request, proxies: Iterable[Network]) -> str:
    """The socket peer; behind trusted proxies, the nearest hop they did not add themselves
    (read from the right, where each proxy appends what it saw, so a client's own entries on
    the left are never reached while a trusted proxy stands between)."""
    peer = request.client.host if request.client else "?"
    nets = tuple(proxies)

    def trusted(ip: Address | None) -> bool:
        return ip is not None and any(ip in n for n in nets)

    current = _ip(peer)
    if not nets or not trusted(current):
        return peer
    assert current is not None
    for hop in reversed(_forwarded_for(request)):
        ip = _ip(hop)
        if ip is None:  # an obfuscated or broken entry: the last proxy is all that is known
            break
        current = ip
        if not trusted(ip):
            break
    return str(current)


class LoginLimiter:
    """Built once per app from the settings; every server process shares the counts."""

    def __init__(self, failures: LoginFailures, proxies: tuple[Network, ...]) -> None:
        self.failures = failures
        self.proxies = proxies

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> LoginLimiter:
        for field in ("login_attempts", "login_address_attempts", "login_window_s"):
            if not getattr(settings, field) > 0:
                raise InvalidInput(f"{field} must be more than 0", field=field)
        limits = LoginLimits(
            settings.login_attempts, settings.login_address_attempts, settings.login_window_s
        )
        return cls(LoginFailures(engine, limits), parse_proxies(settings.trusted_proxies))

    def address(self, request: Request) -> str:
        return client_address(request, self.proxies)

    async def attempt(self, name: str, address: str) -> None:
        """429 (TooManyRequests) when a limit is reached; else the attempt counts as failed
        until :meth:`succeeded` says otherwise."""
        await run_in_threadpool(self.failures.attempt, name, address)

    async def succeeded(self, name: str, address: str) -> None:
        await run_in_threadpool(self.failures.succeeded, name, address)
