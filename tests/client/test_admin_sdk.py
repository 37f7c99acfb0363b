"""The SDK's account and operator methods refuse bad arguments before sending anything: a
transport that fails every request proves no request left."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gep.client import GepClient
from gep.client.errors import ArgumentError


def _no_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a request was sent: {request.method} {request.url}")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda g: g.create_user("ann", role="king"), "role"),
        (lambda g: g.create_user("", role="user"), "name"),
        (lambda g: g.create_user("ann", groups="volc"), "groups"),
        (lambda g: g.create_user("ann", credits=-1), "credits"),
        (lambda g: g.edit_user("ann"), "name"),
        (lambda g: g.grant_credits("ann", 0), "amount"),
        (lambda g: g.grant_credits("ann", True), "amount"),
        (lambda g: g.create_token("", expires_in_days=1), "name"),
        (lambda g: g.create_token("ci", expires_in_days=0), "expires_in_days"),
        (lambda g: g.ledger(limit=0), "limit"),
        (lambda g: g.ledger(offset=-1), "offset"),
        (lambda g: g.set_price("echo", per_hour=1), "per_hour"),
        (lambda g: g.set_data_price("c"), "read"),
        (lambda g: g.add_harvest_source("s", "stac", "", "c"), "url"),
        (lambda g: g.add_harvest_source("s", "stac", "https://a", "c", interval_s=0), "interval_s"),
        (lambda g: g.run_harvest("s", max_pages=0), "max_pages"),
        (lambda g: g.harvest_events(after=-1), "after"),
        (lambda g: g.put_mirror("m", "http", "https://a", []), "collections"),
        (lambda g: g.put_mirror("m", "http", "https://a", ["*"], priority=-1), "priority"),
        (lambda g: g.prefetch(["no-slash"]), "items"),
        (lambda g: g.prefetch([]), "items"),
        (lambda g: g.remove_mirror(""), "name"),
        (lambda g: g.add_member("g", " "), "user"),
    ],
)
def test_arguments_are_refused_before_any_request(call: Any, field: str) -> None:
    http = httpx.Client(base_url="http://gep.test", transport=httpx.MockTransport(_no_request))
    with pytest.raises(ArgumentError) as refused:
        call(GepClient(http=http))
    assert refused.value.field == field and refused.value.status == 0
