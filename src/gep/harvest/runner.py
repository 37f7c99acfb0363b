"""One harvest run: page through a source, upsert each page, move the cursor, log.

The order of the three writes per page is what makes a run safe to cut off anywhere:

1. the page's items are upserted, with their ingestion events, in one transaction per batch;
2. then the cursor of the *next* page is saved;
3. then the run's counters (the harvest log).

Killed before (2), the next run fetches the same page again; the upsert makes that a no-op and
no event is emitted twice, because an event is only written for an item that did not exist. At
the end of the listing the checkpoint (the newest item datetime seen) is saved and the cursor
cleared, so the next run asks only for what is newer (minus ``params.lookback_s``, for archives
that publish late).
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from gep.catalog.store import CatalogStore
from gep.core.errors import GepError
from gep.core.timeutil import format_rfc3339, parse_instant
from gep.harvest.base import HarvestError
from gep.harvest.http import Fetcher, FetchError
from gep.harvest.sources import make_source
from gep.harvest.store import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    HarvestRun,
    HarvestStore,
    now_us,
)

log = logging.getLogger("gep.harvest")


def _newest(items: list[dict[str, Any]], newest: str | None) -> str | None:
    for item in items:
        props = item.get("properties") or {}
        value = props.get("datetime") or props.get("start_datetime")
        if not isinstance(value, str):
            continue
        try:
            stamp = format_rfc3339(parse_instant(value))
        except GepError:
            continue
        if newest is None or stamp > newest:
            newest = stamp
    return newest


def run_harvest(
    catalog: CatalogStore,
    harvests: HarvestStore,
    name: str,
    *,
    full: bool = False,
    max_pages: int | None = None,
    fetcher: Fetcher | None = None,
) -> HarvestRun:
    """Run source ``name`` once; the run's record is returned (and stored) whatever happens.

    ``full`` ignores the checkpoint (and any cursor) and lists the whole archive again;
    ``max_pages`` stops after that many pages, leaving the cursor for the next run.
    """
    record = harvests.get(name)
    config = record.config
    source = make_source(config, fetcher)
    resume = None if full else record.cursor
    if resume is not None:
        since_text = resume.get("since")
        newest = resume.get("newest")
        cursor = resume["page"]
    else:
        since_text = None if full else record.checkpoint
        newest = None
        since = None
        if since_text is not None:
            since = parse_instant(since_text) - timedelta(
                seconds=float(config.params.get("lookback_s", 0))
            )
            since_text = format_rfc3339(since)
        cursor = source.start(since)
    run = harvests.start_run(name, since_text)
    origin = f"harvest:{name}"
    try:
        while True:
            if max_pages is not None and run.pages >= max_pages:
                run.status = INTERRUPTED
                run.errors.append(
                    f"stopped after {run.pages} page(s) as asked; the next run resumes there"
                )
                break
            page = source.fetch(cursor)
            run.pages += 1
            run.seen += len(page.items) + len(page.errors)
            run.skipped += len(page.errors)
            run.errors.extend(page.errors)
            if page.items:
                report = catalog.write_items(
                    page.items, mode="upsert", atomic=False, create_collections=True, origin=origin
                )
                run.new += len(report.new)
                run.updated += report.written - len(report.new)
                run.skipped += len(report.failed)
                run.errors.extend(
                    f"{f.item_id or f'record {f.position}'}: {f.message}" for f in report.failed
                )
            newest = _newest(page.items, newest)
            if page.next is None:
                harvests.save_progress(name, cursor=None, checkpoint=newest or record.checkpoint)
                run.status = SUCCEEDED
                break
            harvests.save_progress(
                name, cursor={"page": page.next, "since": since_text, "newest": newest}
            )
            cursor = page.next
            _count_requests(run, source.fetcher)
            harvests.update_run(run)
    except (FetchError, HarvestError, GepError) as exc:
        run.status = FAILED
        message = exc.message if isinstance(exc, GepError) else str(exc)
        run.errors.append(f"page {run.pages + 1}: {message}")
        log.warning("harvest %s failed: %s", name, message)
    except Exception as exc:  # a source bug must still close the run, with its trace
        run.status = FAILED
        run.errors.append(f"page {run.pages + 1}: {type(exc).__name__}: {exc}")
        log.error("harvest %s crashed:\n%s", name, traceback.format_exc())
    except BaseException:  # Ctrl-C, shutdown: the cursor is saved, the next run resumes
        run.status = INTERRUPTED
        run.errors.append(f"interrupted during page {run.pages + 1}; the next run resumes there")
        raise
    finally:
        _count_requests(run, source.fetcher)
        run.finished = now_us()
        harvests.update_run(run)
        source.fetcher.close()
    return run


def _count_requests(run: HarvestRun, fetcher: Fetcher) -> None:
    run.requests = fetcher.stats.requests
    run.retries = fetcher.stats.retries
