"""Sharing: the checks every ``PATCH … {"visibility": …}`` makes, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gep.api.auth import accounts
from gep.api.deps import json_body
from gep.api.openapi import json_request
from gep.core.access import Viewer, group_of, parse_visibility
from gep.core.errors import Forbidden, InvalidInput

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
