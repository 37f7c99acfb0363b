"""Back-end independent STAC API search benchmark, driven over HTTP.

Why over HTTP and not in-process: the comparison with stac-fastapi-pgstac (or any other STAC API)
is only fair when both are measured the same way, through their public ``POST /search`` with the
same client, the same bodies and the same keep-alive connection.  The driver therefore knows
nothing about the server behind ``--url``; everything it needs comes from :func:`query_set`.

Figures (all latencies are wall-clock milliseconds from sending the request to having read the
whole response body; JSON decoding by the client is not included except in (d), where the client
must decode a page to find its ``next`` link):

(a) ``bbox`` (~5°x5°) + one-month ``datetime``, ``limit`` 10;
(b) (a) + CQL2-JSON ``filter`` ``sat:relative_orbit = N``;
(c) ``intersects`` with an irregular ~3° polygon, ``limit`` 10;
(d) total time to walk 1 000 items of a continent bbox, 100 per page, by following ``next``
    links (GET or POST, with ``body``/``merge`` as the STAC API spec describes), plus the
    latency of the first and of later pages;
(e) a Europe-sized bbox search whose ``numberMatched`` (or ``context.matched``) is read and
    reported; each timed sample is a slightly different box (random per run) so that no
    server answers from a count cache (pgstac keeps one per WHERE clause); ``count_extra`` is
    merged into that body only, to ask servers that count on demand for the count
    (stac-fastapi-pgstac on pgstac 0.10 counts only with ``{"conf": {"context": "on"}}``: its
    default ``context`` setting is ``off``);
(f) searches/s with 8 concurrent keep-alive clients (threads) replaying the (a) queries for
    ~10 s.

Each kind is warmed up with a few of its own queries first (connection set-up, server-side caches
of plans and code paths), then every query is measured ``repeats`` times.  Responses are checked:
status 200, a FeatureCollection of at most ``limit`` items of the right collection, the
relative orbit filter honoured, no item repeated while paging, and a non-empty result for some of
the queries, so a server that answers fast because it answers nothing is caught.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a GEP dependency
    _loads = json.loads

KINDS = ("a", "b", "c", "d", "e", "f")
DESCRIPTIONS = {
    "a": "bbox + month",
    "b": "(a) + relative orbit",
    "c": "intersects polygon",
    "d": "walk 1000 items, 100/page",
    "e": "numberMatched, Europe",
    "f": "searches/s, 8 clients",
}


class BenchError(AssertionError):
    """A response failed a sanity check: the figures would not mean anything."""


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without needing numpy."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _stats(samples_ms: Sequence[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(samples_ms, 50), 2),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "samples": len(samples_ms),
    }


def _check_collection(
    data: Any, limit: int, collections: Sequence[str], what: str
) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise BenchError(f"{what}: not a FeatureCollection: {str(data)[:200]}")
    feats = data.get("features")
    if not isinstance(feats, list) or len(feats) > limit:
        raise BenchError(f"{what}: expected a list of at most {limit} features")
    for f in feats:
        if f.get("collection") not in collections:
            raise BenchError(f"{what}: item {f.get('id')} of collection {f.get('collection')}")
    return feats


def _post(client: httpx.Client, path: str, body: dict[str, Any], what: str) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = client.post(path, json=body)
    ms = (time.perf_counter() - t0) * 1000.0
    if r.status_code != 200:
        raise BenchError(f"{what}: HTTP {r.status_code}: {r.text[:300]}")
    return ms, _loads(r.content)


def number_matched(data: dict[str, Any]) -> int | None:
    """``numberMatched`` (STAC API 1.0) or ``context.matched`` (the older context extension)."""
    if isinstance(data.get("numberMatched"), int):
        return int(data["numberMatched"])
    ctx = data.get("context")
    if isinstance(ctx, dict) and isinstance(ctx.get("matched"), int):
        return int(ctx["matched"])
    return None


def _next_link(data: dict[str, Any]) -> dict[str, Any] | None:
    for link in data.get("links", []):
        if link.get("rel") == "next":
            return link
    return None


def _bodies(queries: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The request bodies of (a), (b), (c) built from a :func:`s1_items.query_set` dict."""
    cols = list(queries["collections"])
    a = [
        {"collections": cols, "bbox": q["bbox"], "datetime": q["datetime"], "limit": 10}
        for q in queries["a"]
    ]
    b = [
        {
            "collections": cols,
            "bbox": q["bbox"],
            "datetime": q["datetime"],
            "limit": 10,
            "filter-lang": "cql2-json",
            "filter": {
                "op": "=",
                "args": [{"property": "sat:relative_orbit"}, q["relative_orbit"]],
            },
        }
        for q in queries["b"]
    ]
    c = [{"collections": cols, "intersects": q["intersects"], "limit": 10} for q in queries["c"]]
    return {"a": a, "b": b, "c": c}


def _latency_kind(
    client: httpx.Client,
    kind: str,
    bodies: list[dict[str, Any]],
    repeats: int,
    warmup: int,
    collections: Sequence[str],
) -> dict[str, Any]:
    for body in bodies[:warmup]:
        _post(client, "search", body, f"({kind}) warm-up")
    samples: list[float] = []
    returned: list[int] = []
    for _ in range(repeats):
        for body in bodies:
            ms, data = _post(client, "search", body, f"({kind})")
            feats = _check_collection(data, body["limit"], collections, f"({kind})")
            if kind == "b":
                want = body["filter"]["args"][1]
                bad = [f["id"] for f in feats if f["properties"].get("sat:relative_orbit") != want]
                if bad:
                    raise BenchError(f"(b): items outside relative orbit {want}: {bad[:3]}")
            samples.append(ms)
            returned.append(len(feats))
    out = _stats(samples)
    out["mean_returned"] = round(sum(returned) / max(len(returned), 1), 2)
    out["nonempty_share"] = round(sum(1 for r in returned if r) / max(len(returned), 1), 3)
    return out


def walk(
    client: httpx.Client, body: dict[str, Any], max_items: int
) -> tuple[float, list[float], list[str]]:
    """Follow ``next`` links from ``POST /search body`` until ``max_items`` items are read.

    Returns the total wall time (ms), the latency of each page (ms) and the item ids.  A link
    with ``method`` POST is posted with its ``body``, merged into the previous body when
    ``merge`` is true; any other link is fetched with GET.
    """
    ids: list[str] = []
    pages: list[float] = []
    t0 = time.perf_counter()
    ms, data = _post(client, "search", body, "(d) page 1")
    pages.append(ms)
    cur_body = body
    while True:
        feats = _check_collection(data, body["limit"], body["collections"], "(d)")
        ids.extend(f["id"] for f in feats)
        link = _next_link(data)
        if len(ids) >= max_items or link is None or not feats:
            break
        t1 = time.perf_counter()
        if str(link.get("method", "GET")).upper() == "POST":
            nb = link.get("body") or {}
            cur_body = {**cur_body, **nb} if link.get("merge") else dict(nb)
            r = client.post(link["href"], json=cur_body)
        else:
            r = client.get(link["href"])
        pages.append((time.perf_counter() - t1) * 1000.0)
        if r.status_code != 200:
            raise BenchError(f"(d) page {len(pages)}: HTTP {r.status_code}: {r.text[:300]}")
        data = _loads(r.content)
    total = (time.perf_counter() - t0) * 1000.0
    return total, pages, ids


def _throughput(
    url: str,
    bodies: list[dict[str, Any]],
    clients: int,
    seconds: float,
    timeout: float,
    headers: dict[str, str],
) -> dict[str, Any]:
    """Searches/s of ``clients`` threads, each with its own keep-alive connection."""
    counts = [0] * clients
    errors = [0] * clients
    stop = threading.Event()
    start = threading.Barrier(clients + 1)

    def worker(w: int) -> None:
        with httpx.Client(base_url=url, timeout=timeout, headers=headers) as cl:
            cl.post("search", json=bodies[w % len(bodies)])  # open the connection
            start.wait()
            i = w * 7
            while not stop.is_set():
                r = cl.post("search", json=bodies[i % len(bodies)])
                if r.status_code == 200 and r.content.startswith(b"{"):
                    counts[w] += 1
                else:
                    errors[w] += 1
                i += 1

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    done_at = sum(counts)  # requests finished within the window
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join(timeout + 5)
    return {
        "searches_per_s": round(done_at / elapsed, 2),
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": done_at,
        "errors": sum(errors),
    }


def run_benchmark(
    url: str,
    queries: dict[str, Any],
    repeats: int = 1,
    warmup: int = 5,
    walks: int = 2,
    clients: int = 8,
    seconds: float = 10.0,
    count_extra: dict[str, Any] | None = None,
    timeout: float = 120.0,
    headers: dict[str, str] | None = None,
    kinds: Sequence[str] = KINDS,
    log: Any = None,
) -> dict[str, Any]:
    """Measure queries (a)-(f) against the STAC API at ``url``; return a dict of figures.

    ``queries`` is a :func:`s1_items.query_set` dict.  ``repeats`` replays every (a), (b), (c)
    query that many times and counts (e) ``5 * repeats`` times; (d) walks each continent of
    ``queries["d"]`` ``walks`` times.  ``count_extra`` is merged into the (e) body (see the
    module docstring).  ``log`` (e.g. ``print``) is told of progress.  Raises
    :class:`BenchError` when a response is not sane.
    """
    base = url.rstrip("/") + "/"
    hdrs = {"Accept": "application/geo+json, application/json", **(headers or {})}
    say = log or (lambda *_a, **_k: None)
    cols = list(queries["collections"])
    bodies = _bodies(queries)
    out: dict[str, Any] = {"url": url, "repeats": repeats}
    with httpx.Client(base_url=base, timeout=timeout, headers=hdrs) as client:
        r = client.get("")
        if r.status_code != 200:
            raise BenchError(f"landing page: HTTP {r.status_code}")
        for kind in ("a", "b", "c"):
            if kind in kinds:
                say(f"({kind}) {DESCRIPTIONS[kind]} ...")
                out[kind] = _latency_kind(client, kind, bodies[kind], repeats, warmup, cols)
        if "a" in out and out["a"]["nonempty_share"] == 0:
            raise BenchError("(a): every query returned nothing: is the catalogue loaded?")
        if "d" in kinds:
            say("(d) walking ...")
            out["d"] = _walks(client, queries, cols, walks)
        if "e" in kinds:
            say("(e) numberMatched ...")
            out["e"] = _count(client, queries, cols, repeats, count_extra)
    if "f" in kinds:
        say(f"(f) {clients} clients for {seconds:.0f} s ...")
        out["f"] = _throughput(base, bodies["a"], clients, seconds, timeout, hdrs)
        if out["f"]["errors"]:
            raise BenchError(f"(f): {out['f']['errors']} failed searches")
    return out


def _walks(
    client: httpx.Client, queries: dict[str, Any], cols: list[str], walks: int
) -> dict[str, Any]:
    want = int(queries.get("walk_items", 1000))
    size = int(queries.get("page_size", 100))
    totals: list[float] = []
    first: list[float] = []
    later: list[float] = []
    walked: list[int] = []
    bodies = [{"collections": cols, "bbox": q["bbox"], "limit": size} for q in queries["d"]]
    walk(client, bodies[0], 2 * size)  # warm-up
    for _ in range(walks):
        for body in bodies:
            total, pages, ids = walk(client, body, want)
            if len(set(ids)) != len(ids):
                raise BenchError("(d): an item came back twice while paging")
            if len(ids) < want:
                raise BenchError(
                    f"(d): only {len(ids)} items reached by next links over "
                    f"{body['bbox']} (is the catalogue big enough?)"
                )
            totals.append(total)
            first.append(pages[0])
            later.extend(pages[1:])
            walked.append(len(ids))
    out = _stats(totals)
    out.update(
        {
            "items_per_walk": min(walked),
            "first_page_p50_ms": round(percentile(first, 50), 2),
            "later_pages_p50_ms": round(percentile(later, 50), 2),
            "later_pages_p95_ms": round(percentile(later, 95), 2),
        }
    )
    return out


def _count(
    client: httpx.Client,
    queries: dict[str, Any],
    cols: list[str],
    repeats: int,
    count_extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """Latency of counting a continent.

    Every timed sample is a *different* search, the box grown by a random few 1e-4 degrees,
    because pgstac caches counts per WHERE clause for a day (``context_stats_ttl``), also across
    runs on the same database: repeating one search would time a cache lookup, not a count.
    The count reported is that of the exact box, asked first and not timed.
    """
    x0, y0, x1, y1 = queries["e"]["bbox"]

    def body(d: float) -> dict[str, Any]:
        box = [x0 - d, y0 - d, x1 + d, y1 + d] if d else [x0, y0, x1, y1]
        return {"collections": cols, "bbox": box, "limit": 10, **(count_extra or {})}

    def matched(data: Any, sent: dict[str, Any]) -> int:
        feats = _check_collection(data, 10, cols, "(e)")
        nm = number_matched(data)
        if nm is None:
            raise BenchError(
                "(e): the response has neither numberMatched nor context.matched "
                f"(body sent: {json.dumps(sent)[:200]})"
            )
        if nm < len(feats):
            raise BenchError(f"(e): numberMatched {nm} < {len(feats)} items returned")
        return nm

    exact_body = body(0.0)
    exact = matched(_post(client, "search", exact_body, "(e)")[1], exact_body)
    nonce = random.SystemRandom().randrange(1, 1_000_000)
    samples: list[float] = []
    for i in range(max(5, 5 * repeats)):
        b = body(1e-4 * (i + 1) + 1e-10 * nonce)
        ms, data = _post(client, "search", b, "(e)")
        nm = matched(data, b)
        if not exact <= nm <= 1.01 * exact + 10:
            raise BenchError(f"(e): {nm} matched in a box barely larger than one with {exact}")
        samples.append(ms)
    out = _stats(samples)
    out["number_matched"] = exact
    return out


# --- presentation -------------------------------------------------------------------------------


def rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(query, p50, p95, note) rows of one result dict, for printing."""
    out: list[tuple[str, str, str, str]] = []
    for k in ("a", "b", "c", "d", "e"):
        if k in fig:
            f = fig[k]
            note = ""
            if k in "abc":
                note = f"{f['mean_returned']} items/response, {f['nonempty_share']:.0%} non-empty"
            elif k == "d":
                note = (
                    f"page 1 {f['first_page_p50_ms']:.0f} ms, later pages p50/p95 "
                    f"{f['later_pages_p50_ms']:.0f}/{f['later_pages_p95_ms']:.0f} ms"
                )
            elif k == "e":
                note = f"numberMatched = {f['number_matched']}"
            out.append(
                (f"({k}) {DESCRIPTIONS[k]}", f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}", note)
            )
    if "f" in fig:
        f = fig["f"]
        out.append(
            (
                f"(f) {DESCRIPTIONS['f']}",
                f"{f['searches_per_s']:.1f}/s",
                "",
                f"{f['requests']} searches in {f['seconds']} s",
            )
        )
    return out


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, float]:
    """ours / peer per figure: p50 and p95 latency ratios (< 1 is faster) and the throughput
    ratio of (f) (> 1 is faster)."""
    out: dict[str, float] = {}
    for k in ("a", "b", "c", "d", "e"):
        if k in ours and k in peer:
            for p in ("p50_ms", "p95_ms"):
                if peer[k][p]:
                    out[f"{k}_{p[:3]}"] = round(ours[k][p] / peer[k][p], 3)
    if "f" in ours and "f" in peer and peer["f"]["searches_per_s"]:
        out["f_throughput"] = round(ours["f"]["searches_per_s"] / peer["f"]["searches_per_s"], 3)
    return out


def print_table(fig: dict[str, Any], title: str = "") -> None:
    """Print one result dict as a table (rich when it is installed, plain text otherwise)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        print(title)
        for r in rows(fig):
            print(f"  {r[0]:<32} {r[1]:>10} {r[2]:>10}  {r[3]}")
        return
    table = Table(title=title or fig.get("url", ""))
    for col, just in (("query", "left"), ("p50 ms", "right"), ("p95 ms", "right"), ("", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows(fig):
        table.add_row(*r)
    Console(width=max(120, Console().width)).print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark one STAC API: ``python bench/stac_client_bench.py --url http://host:port``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="STAC API root, e.g. http://127.0.0.1:8082")
    ap.add_argument("--repeats", type=int, default=1, help="times every query is measured")
    ap.add_argument("--seed", type=int, default=0, help="query set seed")
    ap.add_argument("--k", type=int, default=50, help="queries per kind (a), (b), (c)")
    ap.add_argument("--walks", type=int, default=2, help="walks per continent for (d)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of (f)")
    ap.add_argument("--only", default="abcdef", help="subset of the kinds to run, e.g. abc")
    ap.add_argument(
        "--count-extra",
        default='{"conf": {"context": "on"}}',
        help="JSON merged into the (e) body to ask for numberMatched "
        "(default: pgstac's per-request switch; other servers ignore it)",
    )
    ap.add_argument(
        "--accept-encoding",
        default=None,
        help="Accept-Encoding header to send (default: httpx's 'gzip, deflate'; "
        "'identity' turns response compression off)",
    )
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    try:
        from s1_items import query_set
    except ImportError:
        from bench.s1_items import query_set
    queries = query_set(args.seed, args.k)
    fig = run_benchmark(
        args.url,
        queries,
        repeats=args.repeats,
        walks=args.walks,
        clients=args.clients,
        seconds=args.seconds,
        count_extra=json.loads(args.count_extra) if args.count_extra else None,
        kinds=tuple(args.only),
        headers={"Accept-Encoding": args.accept_encoding} if args.accept_encoding else None,
        log=lambda m: print(m, file=sys.stderr),
    )
    print_table(fig)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(fig, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
