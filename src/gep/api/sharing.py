"""What an owner does to what they own, in one place: share it (every ``PATCH …
{"visibility": …}``: who may, with whom, in which order the checks answer) and delete it (the
shape of every ``DELETE`` that answers 204).

Routers keep what differs (how ownership is checked, which store changes, what the answer
holds); the order and the documented answers live here so that a new kind of owned thing
(uploads, subscriptions) shares and deletes the way the others do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from gep.api.auth import accounts, require_user
from gep.api.deps import json_body
from gep.api.openapi import Responses, json_request, problems
from gep.core.access import Viewer, group_of, parse_visibility
from gep.core.errors import Forbidden, InvalidInput

T = TypeVar("T")
R = TypeVar("R")

#: the documented body of every ``PATCH … {"visibility": …}`` (parsed by :func:`visibility_body`)
VISIBILITY_REQUEST = json_request(
    "Who may see it",
    {
        "type": "object",
        "required": ["visibility"],
        "additionalProperties": False,
        "properties": {
            "visibility": {"type": "string", "description": "private, group:<name> or public"}
        },
    },
)


def check_sharing(request: Request, viewer: Viewer, value: Any) -> str:
    """A valid visibility ``viewer`` may give: a group must exist, and a user may share only
    with groups they belong to (administrators with any).

    Membership is checked first: a user who is not in the group gets the same answer whether
    it exists or not (groups are visible to their members only, and this must not list them).
    """
    visibility = parse_visibility(value)
    group = group_of(visibility)
    if group is not None:
        if not viewer.is_admin and group not in viewer.groups:
            raise Forbidden(
                f"you can share only with groups you belong to; you are not in '{group}'",
                field="visibility",
            )
        if group not in accounts(request).group_names():
            raise InvalidInput(f"there is no group '{group}' to share with", field="visibility")
    return visibility


async def visibility_body(request: Request) -> Any:
    """The ``visibility`` of a sharing request's body, which holds nothing else."""
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != {"visibility"}:
        raise InvalidInput(
            'the body must be {"visibility": "private" | "group:<name>" | "public"}',
            field="visibility",
        )
    return body["visibility"]


def share_route(
    router: APIRouter, path: str, *, summary: str, answer: Responses | None = None, **extra: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a ``PATCH {"visibility"}`` route: its documented body and the problems every
    share may answer (``answer``, the success response, first when the route documents one)."""
    return router.patch(
        path,
        summary=summary,
        responses={**(answer or {}), **problems(400, 401, 403, 404, 415)},
        openapi_extra=VISIBILITY_REQUEST,
        **extra,
    )


async def share(
    request: Request, viewer: Viewer, own: Callable[[], T], give: Callable[[T, str], R]
) -> tuple[R, str]:
    """Check ownership → check sharing → set visibility, in that order: ``own`` answers 404 or
    403 on the thing itself before the body is read (a caller who may not change it learns
    nothing from what they asked), then the body and :func:`check_sharing`, then ``give`` sets
    the visibility. Both callables touch stores, so they run in threads. Returns what ``give``
    answered and the visibility given; the router builds the answer."""
    target = await run_in_threadpool(own)
    visibility = check_sharing(request, viewer, await visibility_body(request))
    return await run_in_threadpool(give, target, visibility), visibility


async def share_member(request: Request, patch: dict[str, Any], give: Callable[[str], Any]) -> None:
    """A merge patch's ``"visibility"`` member shares instead of being stored: taken out of
    ``patch``, checked (:func:`check_sharing`) and given; nothing when the patch has none. The
    caller has already checked that the thing is theirs to write."""
    if "visibility" in patch:
        visibility = check_sharing(request, require_user(request), patch.pop("visibility"))
        await run_in_threadpool(give, visibility)


def delete_route(
    router: APIRouter,
    path: str,
    *,
    summary: str,
    statuses: tuple[int, ...] = (401, 403, 404),
    **extra: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a ``DELETE`` that answers 204 No Content, with the problems it may answer (by
    default: not signed in, not yours, no such thing)."""
    return router.delete(
        path, status_code=204, summary=summary, responses=problems(*statuses), **extra
    )
