"""Who is asking, and what they may see: the value types every layer filters with.

Visibility is one of three forms, the same for every object a user owns (jobs, deployed services,
collections and items, named areas, harvest sources):

* ``private``: the owner (and administrators) only;
* ``group:<name>``: the owner and the members of that group;
* ``public``: everyone, anonymous callers included.

The catalogue, the job store and the other stores turn a :class:`Viewer` into a SQL predicate
(:func:`visibility_clause`), so that paging and counts are computed over what the caller may see,
never filtered afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gep.core.errors import InvalidInput

PRIVATE, PUBLIC = "private", "public"
GROUP_PREFIX = "group:"
ROLES = ("user", "developer", "admin")
#: group and user names: what a URL path and a ``group:<name>`` tag can carry unescaped
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_visibility(value: Any, field: str = "visibility") -> str:
    """``private``, ``public`` or ``group:<name>``; anything else is refused with the forms."""
    if isinstance(value, str):
        v = value.strip()
        if v in (PRIVATE, PUBLIC):
            return v
        if v.startswith(GROUP_PREFIX) and NAME_PATTERN.match(v[len(GROUP_PREFIX) :]):
            return v
    raise InvalidInput(
        f"visibility '{value}' is not one of 'private', 'public' or 'group:<name>'", field=field
    )


@dataclass(frozen=True)
class Viewer:
    """The caller: a user (with their groups and role), or anonymous (``user_id`` None)."""

    user_id: str | None = None
    name: str | None = None
    role: str = "user"
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and not self.anonymous

    @property
    def can_deploy(self) -> bool:
        return self.role in ("developer", "admin") and not self.anonymous

    def group_tags(self) -> list[str]:
        return sorted(GROUP_PREFIX + g for g in self.groups)

    def may_see(self, owner: str | None, visibility: str | None) -> bool:
        """The rule every SQL predicate below implements, for objects already in hand."""
        if self.is_admin or visibility == PUBLIC:
            return True
        if self.anonymous:
            return False
        return owner == self.user_id or (visibility or "") in self.group_tags()

    def may_change(self, owner: str | None) -> bool:
        """Changing or sharing an object is its owner's (or an administrator's) right."""
        return self.is_admin or (not self.anonymous and owner == self.user_id)


#: the unrestricted viewer: internal work (workers publishing, the CLI on the server's own
#: database, harvesters) that acts for the platform, not for a caller
SYSTEM = Viewer(user_id="system", name="system", role="admin")
ANONYMOUS = Viewer()


def visibility_clause(
    viewer: Viewer, owner_col: str, visibility_col: str, params: dict[str, Any], prefix: str = "v"
) -> str | None:
    """A SQL predicate (named parameters added to ``params``) true for the rows ``viewer`` may
    see; None when the viewer sees everything."""
    if viewer.is_admin:
        return None
    params[f"{prefix}_public"] = PUBLIC
    if viewer.anonymous:
        return f"{visibility_col} = :{prefix}_public"
    params[f"{prefix}_me"] = viewer.user_id
    parts = [f"{visibility_col} = :{prefix}_public", f"{owner_col} = :{prefix}_me"]
    tags = viewer.group_tags()
    if tags:
        names = []
        for n, tag in enumerate(tags):
            params[f"{prefix}_g{n}"] = tag
            names.append(f":{prefix}_g{n}")
        parts.append(f"{visibility_col} IN ({', '.join(names)})")
    return "(" + " OR ".join(parts) + ")"


def group_of(visibility: str) -> str | None:
    return visibility[len(GROUP_PREFIX) :] if visibility.startswith(GROUP_PREFIX) else None


def check_groups_exist(visibility: str, known: Iterable[str]) -> None:
    """Sharing with a group that does not exist is a typo, not a share."""
    group = group_of(visibility)
    if group is not None and group not in set(known):
        raise InvalidInput(f"there is no group '{group}' to share with", field="visibility")
