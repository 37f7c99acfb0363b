"""The account, harvest, gateway, retention and subscription commands against a GEP server on
another port and another home (``remote_gep``): everything goes through GEP_URL and GEP_TOKEN,
so a command that still opened the database would find an empty one and fail here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import RemoteGep


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Any, *words: str) -> None:
    """One line on standard error, exit 2, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


def test_accounts_as_admin_and_as_a_user(remote_gep: RemoteGep, tmp_path: Path) -> None:
    g = remote_gep
    # the users, groups and credits of an administrator, through the API
    made = as_json(g.invoke("users", "create", "ad-rita", "--group", "ad-volc", "--credits", "5",
                            "--token", "--json"))  # fmt: skip
    assert made["name"] == "ad-rita" and made["groups"] == ["ad-volc"] and made["token"]
    rita = made["token"]
    out = ok(g.invoke("users", "create", "ad-sam", "--role", "developer", "--token"))
    assert "user 'ad-sam' created (role developer)" in out
    sam = out.strip().splitlines()[-1]
    assert sam.startswith("gep_")
    users = {u["name"]: u for u in as_json(g.invoke("users", "list", "--json"))}
    assert users["ad-rita"]["credits"]["available"] == 5.0 and "ad-sam" in users
    assert "ad-rita" in ok(g.invoke("users", "list"))
    refused(g.invoke("users", "create", "ad-rita"), "ad-rita")  # taken: the server's 409
    refused(g.invoke("users", "create", "x", "--role", "king"), "role")  # the SDK's refusal
    ok(g.invoke("users", "set", "ad-sam", "--allowance", "7"))
    assert as_json(g.invoke("users", "set", "ad-sam", "--enabled", "--json"))["disabled"] is False

    ok(g.invoke("groups", "create", "ad-geo", "--description", "geologists", "--allowance", "3"))
    ok(g.invoke("groups", "add", "ad-geo", "ad-sam"))
    groups = {x["name"]: x for x in as_json(g.invoke("groups", "list", "--json"))}
    assert groups["ad-geo"]["members"] == ["ad-sam"] and "ad-rita" in groups["ad-volc"]["members"]
    ok(g.invoke("groups", "remove", "ad-geo", "ad-sam"))
    assert as_json(g.invoke("groups", "list", "--json"))[0]["name"]

    granted = as_json(g.invoke("credits", "grant", "ad-rita", "2.5", "--note", "t", "--json"))
    assert granted["balance"] == 7.5
    ledger = as_json(g.invoke("credits", "ledger", "--user", "ad-rita", "--json"))
    assert [r["user"] for r in ledger] == ["ad-rita", "ad-rita"] and ledger[0]["note"] == "t"
    assert "ad-rita" in ok(g.invoke("credits", "ledger"))
    price = as_json(g.invoke("credits", "price", "echo", "--per-job", "1.5", "--json"))
    assert price["per_job"] == 1.5 and price["process"] == "echo"
    again = as_json(g.invoke("credits", "price", "echo", "--per-input", "2", "--json"))
    assert (again["per_job"], again["per_input"]) == (1.5, 2.0)  # the other parts kept
    dp = as_json(g.invoke("credits", "data-price", "*", "--read", "4", "--json"))
    assert dp["*"]["read_cents_per_gb"] == 4
    ok(g.invoke("credits", "data-price", "*", "--remove"))
    assert as_json(g.invoke("credits", "data-price", "--json")) == {}
    usage = as_json(g.invoke("usage", "--json"))  # everyone's (the battery's jobs too)
    assert isinstance(usage["usage"], list) and "data" in usage
    assert ok(g.invoke("usage", "--csv")).startswith("user,")
    issued = as_json(g.invoke("users", "token", "ad-rita", "--name", "ci", "--json"))
    assert issued["user"] == "ad-rita" and issued["token"].startswith("gep_")

    # a user: their own account, tokens, credits and ledger; an administrator's refused
    me = as_json(g.invoke("users", "me", "--json", token=rita))
    assert me["name"] == "ad-rita" and me["credits"]["balance"] == 7.5
    assert "7.5" in ok(g.invoke("credits", token=rita))
    assert len(as_json(g.invoke("credits", "ledger", "--json", token=rita))) == 2
    assert as_json(g.invoke("usage", "--json", token=rita))["usage"] == []  # only theirs
    new = as_json(g.invoke("tokens", "create", "laptop", "--days", "3", "--json", token=rita))
    listed = as_json(g.invoke("tokens", "list", "--json", token=new["token"]))
    assert new["id"] in [t["id"] for t in listed]
    ok(g.invoke("tokens", "revoke", new["id"], token=rita))
    refused(g.invoke("users", "me", token=new["token"]), "HTTP 401")
    assert as_json(g.invoke("groups", "list", "--json", token=rita))[0]["name"] == "ad-volc"
    refused(g.invoke("users", "list", token=rita), "administrator", "HTTP 403")
    refused(g.invoke("credits", "grant", "ad-rita", "100", token=rita), "HTTP 403")
    refused(g.invoke("groups", "create", "mine", token=rita), "HTTP 403")
    refused(g.invoke("credits", "ledger", "--user", "ad-sam", token=rita), "ad-sam", "HTTP 404")
    refused(g.invoke("users", "token", "ad-sam", token=rita), "HTTP 403")
    assert ok(g.invoke("users", "token", "ad-rita", token=rita)).strip().splitlines()[-1]
    # the real executable: the same one line, no traceback
    done = g.run("users", "list", token=rita)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error:") and "HTTP 403" in done.stderr


def test_harvest_mirrors_cache_and_retention(remote_gep: RemoteGep, tmp_path: Path) -> None:
    g = remote_gep
    # a folder of SAFE products on the server's machine (an empty one: nothing new)
    folder = g.server_home / "safe"
    folder.mkdir(exist_ok=True)
    added = as_json(g.invoke("harvest", "add", "local", "--kind", "safe", "--url", str(folder),
                             "--collection", "s1-local", "--every", "6h", "--json"))  # fmt: skip
    assert added["interval_s"] == 21600 and added["kind"] == "safe"
    refused(g.invoke("harvest", "add", "x", "--kind", "stac", "--url", "ftp://a",
                     "--collection", "c"), "http")  # fmt: skip
    refused(g.invoke("harvest", "add", "y", "--kind", "stac", "--url", "https://a.example",
                     "--collection", "c", "--every", "soon"), "30m, 6h or 1d")  # fmt: skip
    assert [s["name"] for s in as_json(g.invoke("harvest", "list", "--json"))] == ["local"]
    assert "local" in ok(g.invoke("harvest", "list"))
    runs = as_json(g.invoke("harvest", "run", "local", "--json"))
    assert [(r["source"], r["status"]) for r in runs] == [("local", "succeeded")]
    assert "succeeded" in ok(g.invoke("harvest", "run"))  # every enabled source
    status = as_json(g.invoke("harvest", "status", "local", "--json"))
    assert len(status) == 2 and all(r["status"] == "succeeded" for r in status)
    assert "local run" in ok(g.invoke("harvest", "status"))
    events = as_json(g.invoke("harvest", "events", "--json"))
    assert set(events) == {"events", "next_after"}
    refused(g.invoke("harvest", "run", "local", token=_user(g, "ad-hu")), "HTTP 403")
    ok(g.invoke("harvest", "remove", "local"))
    refused(g.invoke("harvest", "status", "local"), "local", "HTTP 404")

    # mirrors and the cache (an administrator's), prefetch (anyone's)
    m = as_json(g.invoke("mirrors", "add", "cdse", "--kind", "http", "--url",
                         "https://zipper.test/odata", "--collection", "*", "--credential",
                         "token_env=GEP_MIRROR_CDSE", "--json"))  # fmt: skip
    assert m["created"] is True and m["credentials"] == {"token_env": "GEP_MIRROR_CDSE"}
    assert "replaced" in ok(g.invoke("mirrors", "add", "cdse", "--kind", "http", "--url",
                                     "https://zipper.test/odata", "--collection", "*"))  # fmt: skip
    refused(g.invoke("mirrors", "add", "bad", "--kind", "local", "--url", "/nowhere",
                     "--collection", "*"), "GEP_DATA_ROOTS")  # fmt: skip
    assert [x["name"] for x in as_json(g.invoke("mirrors", "list", "--json"))] == ["cdse"]
    assert "cdse" in ok(g.invoke("mirrors", "list"))
    ok(g.invoke("mirrors", "remove", "cdse"))
    refused(g.invoke("mirrors", "remove", "cdse"), "cdse")
    stats = as_json(g.invoke("cache", "stats", "--json"))
    assert {"sources", "totals", "cache"} <= set(stats)
    assert "total" in ok(g.invoke("cache", "stats"))
    refused(g.invoke("cache", "prefetch", "nope/none"), "HTTP 404")
    refused(g.invoke("cache", "prefetch", "no-slash"), "collection/item")

    # retention: policies from the collections, the sweep (an administrator's)
    import httpx

    headers = {"Authorization": f"Bearer {g.admin_token}"}
    coll = {"id": "short-lived", "description": "t", "gep:retention": {"days": 3}}
    assert httpx.post(f"{g.url}/stac/collections", json=coll, headers=headers).status_code == 201
    assert as_json(g.invoke("retention", "policies", "--json"))["short-lived"] == {"days": 3}
    assert "short-lived" in ok(g.invoke("retention", "policies"))
    report = as_json(g.invoke("retention", "run", "--dry-run", "--json"))
    assert report["dry_run"] is True and report["policies"]["short-lived"] == {"days": 3}
    assert "0 expired" in ok(g.invoke("retention", "run"))
    refused(g.invoke("retention", "run", token=_user(g, "ad-ru")), "HTTP 403")


def _user(g: RemoteGep, name: str) -> str:
    done = as_json(g.invoke("users", "create", name, "--token", "--json"))
    return str(done["token"])


def test_subscriptions_through_the_url(remote_gep: RemoteGep, tmp_path: Path) -> None:
    g = remote_gep
    spec = {
        "title": "nightly echo",
        "process": "echo",
        "inputs": {"message": "{{start}}"},
        "trigger": {"type": "time", "cron": "0 3 * * *", "window": "P1D"},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    created = as_json(g.invoke("subscriptions", "create", str(path), "--json"))
    sub = created["id"]
    assert sub.startswith("sub-") and created["state"] == "active"
    assert sub in [s["id"] for s in as_json(g.invoke("subscriptions", "list", "--json"))]
    assert sub in ok(g.invoke("subscriptions", "list"))  # the id is never cut
    assert as_json(g.invoke("subscriptions", "show", sub, "--json"))["title"] == "nightly echo"
    assert "next run" in ok(g.invoke("subscriptions", "show", sub))
    assert as_json(g.invoke("subscriptions", "pause", sub, "--json"))["state"] == "paused"
    resumed = g.invoke("subscriptions", "resume", sub, "--no-catch-up", "--json")
    assert as_json(resumed)["state"] == "active"
    assert as_json(g.invoke("subscriptions", "jobs", sub, "--json")) == []
    layer = as_json(g.invoke("subscriptions", "layer", sub, "--json"))
    assert layer["collection"]
    gone = as_json(g.invoke("subscriptions", "delete", sub, "--json"))
    assert gone == {"id": sub, "deleted": True, "layer_removed": False}
    refused(g.invoke("subscriptions", "show", sub), sub, "HTTP 404")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    refused(g.invoke("subscriptions", "create", str(bad)), "not JSON")
