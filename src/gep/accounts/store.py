"""Users, groups and tokens, in the platform database.

Secrets are never stored: passwords as argon2id hashes (slow on purpose: they are guessable),
tokens as the SHA-256 of their random secret (256 random bits are not guessable, and a token is
checked on every request, so a fast hash is the right one). A token reads
``gep_<id>_<secret>``: the id finds the row without scanning, the secret is compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from gep.accounts.passwords import hash_password, verify_password
from gep.core.access import NAME_PATTERN, ROLES, Viewer
from gep.core.errors import Conflict, InvalidInput, NotFound, Unauthorized

API, SESSION = "api", "session"
TOKEN_PREFIX = "gep_"
#: longest lifetime of an API token (a year); sessions live GEP_SESSION_HOURS
MAX_TOKEN_DAYS = 366


def now_us() -> int:
    return time.time_ns() // 1000


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str | None
    role: str
    groups: tuple[str, ...]
    monthly_allowance: int | None  # cents
    disabled: bool
    created: int
    has_password: bool = False

    def viewer(self) -> Viewer:
        return Viewer(self.id, self.name, self.role, frozenset(self.groups))

    def as_dict(self) -> dict[str, Any]:
        from gep.accounts.money import credits

        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "groups": list(self.groups),
            "monthly_allowance": None
            if self.monthly_allowance is None
            else credits(self.monthly_allowance),
            "disabled": self.disabled,
        }


@dataclass(frozen=True)
class Token:
    id: str
    user_id: str
    name: str
    kind: str
    created: int
    expires: int | None
    revoked: int | None
    last_used: int | None

    def as_dict(self) -> dict[str, Any]:
        from gep.core.timeutil import format_rfc3339, from_micros

        def ts(us: int | None) -> str | None:
            return None if us is None else format_rfc3339(from_micros(us))

        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "created": ts(self.created),
            "expires": ts(self.expires),
            "revoked": ts(self.revoked),
            "last_used": ts(self.last_used),
        }


def check_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"{what} '{name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            field=what,
        )
    return name


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role '{role}' is not one of {', '.join(ROLES)}", field="role")
    return str(role)


_USER_COLS = (
    "id, name, email, role, password_hash IS NOT NULL, monthly_allowance, disabled, created"
)
_TOKEN_COLS = "id, user_id, name, kind, created, expires, revoked, last_used"


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -------------------------------------------------------------- users
    def create_user(
        self,
        name: str,
        *,
        role: str = "user",
        email: str | None = None,
        password: str | None = None,
        groups: list[str] | tuple[str, ...] = (),
        monthly_allowance: int | None = None,
        oidc: tuple[str, str] | None = None,
    ) -> User:
        check_name(name)
        check_role(role)
        for g in groups:
            check_name(g, "group")
        pw_hash = hash_password(password) if password is not None else None
        user_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM users WHERE name = :n"), {"n": name}).first():
                raise Conflict(f"a user named '{name}' exists already", field="name")
            conn.execute(
                text(
                    "INSERT INTO users (id, name, email, role, password_hash, oidc_issuer, "
                    "oidc_subject, monthly_allowance, disabled, created) VALUES "
                    "(:id, :n, :e, :r, :p, :oi, :os, :a, 0, :t)"
                ),
                {
                    "id": user_id,
                    "n": name,
                    "e": email,
                    "r": role,
                    "p": pw_hash,
                    "oi": oidc[0] if oidc else None,
                    "os": oidc[1] if oidc else None,
                    "a": monthly_allowance,
                    "t": now_us(),
                },
            )
            for g in groups:
                self._ensure_group(conn, g)
                conn.execute(
                    text("INSERT INTO group_members (group_name, user_id) VALUES (:g, :u)"),
                    {"g": g, "u": user_id},
                )
        return self.user(user_id)

    def _groups_of(self, conn: Connection, user_id: str) -> tuple[str, ...]:
        rows = conn.execute(
            text("SELECT group_name FROM group_members WHERE user_id = :u ORDER BY group_name"),
            {"u": user_id},
        ).all()
        return tuple(r[0] for r in rows)

    def _user_row(self, conn: Connection, row: Any) -> User:
        return User(
            id=row[0],
            name=row[1],
            email=row[2],
            role=row[3],
            has_password=bool(row[4]),
            monthly_allowance=None if row[5] is None else int(row[5]),
            disabled=bool(row[6]),
            created=int(row[7]),
            groups=self._groups_of(conn, row[0]),
        )

    def user(self, user_id: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_USER_COLS} FROM users WHERE id = :id"), {"id": user_id}
            ).first()
            if row is None:
                raise NotFound(f"no user with id '{user_id}'", field="user")
            return self._user_row(conn, row)

    def user_by_name(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_USER_COLS} FROM users WHERE name = :n"), {"n": name}
            ).first()
            if row is None:
                raise NotFound(f"no user named '{name}'", field="user")
            return self._user_row(conn, row)

    def user_by_oidc(self, issuer: str, subject: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    f"SELECT {_USER_COLS} FROM users WHERE oidc_issuer = :i AND oidc_subject = :s"
                ),
                {"i": issuer, "s": subject},
            ).first()
            return None if row is None else self._user_row(conn, row)

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {_USER_COLS} FROM users ORDER BY name")).all()
            return [self._user_row(conn, r) for r in rows]

    def update_user(
        self,
        name: str,
        *,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        monthly_allowance: int | str | None = "keep",
    ) -> User:
        user = self.user_by_name(name)
        sets: list[str] = []
        params: dict[str, Any] = {"id": user.id}
        if role is not None:
            sets.append("role = :r")
            params["r"] = check_role(role)
        if password is not None:
            sets.append("password_hash = :p")
            params["p"] = hash_password(password)
        if disabled is not None:
            sets.append("disabled = :d")
            params["d"] = int(disabled)
        if monthly_allowance != "keep":
            sets.append("monthly_allowance = :a")
            params["a"] = monthly_allowance
        if sets:
            with self.engine.begin() as conn:
                conn.execute(text(f"UPDATE users SET {', '.join(sets)} WHERE id = :id"), params)
        return self.user(user.id)

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; None otherwise (unknown name included, after
        the same work, so that timing does not tell which names exist)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT id, password_hash, disabled FROM users WHERE name = :n"), {"n": name}
            ).first()
        stored = row[1] if row is not None else None
        ok = verify_password(stored, password)
        if row is None or not ok or row[2]:
            return None
        return self.user(row[0])

    # -------------------------------------------------------------- groups
    def _ensure_group(self, conn: Connection, name: str) -> None:
        if not conn.execute(text("SELECT 1 FROM user_groups WHERE name = :g"), {"g": name}).first():
            conn.execute(
                text("INSERT INTO user_groups (name, created) VALUES (:g, :t)"),
                {"g": name, "t": now_us()},
            )

    def create_group(
        self, name: str, description: str | None = None, monthly_allowance: int | None = None
    ) -> dict[str, Any]:
        check_name(name, "group")
        with self.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM user_groups WHERE name = :g"), {"g": name}).first():
                raise Conflict(f"a group named '{name}' exists already", field="name")
            conn.execute(
                text(
                    "INSERT INTO user_groups (name, description, monthly_allowance, created) "
                    "VALUES (:g, :d, :a, :t)"
                ),
                {"g": name, "d": description, "a": monthly_allowance, "t": now_us()},
            )
        return self.group(name)

    def group(self, name: str) -> dict[str, Any]:
        from gep.accounts.money import credits

        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT name, description, monthly_allowance FROM user_groups WHERE name = :g"
                ),
                {"g": name},
            ).first()
            if row is None:
                raise NotFound(f"no group named '{name}'", field="group")
            members = conn.execute(
                text(
                    "SELECT u.name FROM group_members m JOIN users u ON u.id = m.user_id "
                    "WHERE m.group_name = :g ORDER BY u.name"
                ),
                {"g": name},
            ).all()
        return {
            "name": row[0],
            "description": row[1],
            "monthly_allowance": None if row[2] is None else credits(int(row[2])),
            "members": [m[0] for m in members],
        }

    def group_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT name FROM user_groups ORDER BY name"))]

    def groups(self, member: str | None = None) -> list[dict[str, Any]]:
        """Every group, or those ``member`` (a user id) belongs to."""
        if member is None:
            names = self.group_names()
        else:
            with self.engine.connect() as conn:
                names = list(self._groups_of(conn, member))
        return [self.group(n) for n in names]

    def add_member(self, group: str, user_name: str) -> None:
        user = self.user_by_name(user_name)
        self.group(group)
        with self.engine.begin() as conn:
            if not conn.execute(
                text("SELECT 1 FROM group_members WHERE group_name = :g AND user_id = :u"),
                {"g": group, "u": user.id},
            ).first():
                conn.execute(
                    text("INSERT INTO group_members (group_name, user_id) VALUES (:g, :u)"),
                    {"g": group, "u": user.id},
                )

    def remove_member(self, group: str, user_name: str) -> None:
        user = self.user_by_name(user_name)
        with self.engine.begin() as conn:
            gone = conn.execute(
                text("DELETE FROM group_members WHERE group_name = :g AND user_id = :u"),
                {"g": group, "u": user.id},
            )
        if not gone.rowcount:
            raise NotFound(f"'{user_name}' is not a member of '{group}'", field="user")

    # -------------------------------------------------------------- tokens
    def issue_token(
        self,
        user_id: str,
        name: str,
        *,
        kind: str = API,
        expires_in_s: float | None = None,
        secret: str | None = None,
    ) -> tuple[Token, str]:
        """A new token; returns its record and the token string, which is shown once and never
        stored. ``secret`` fixes the secret (a bootstrap token given by the operator)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise InvalidInput("a token needs a name of 1-100 characters", field="name")
        if expires_in_s is not None and not 0 < expires_in_s <= MAX_TOKEN_DAYS * 86400:
            raise InvalidInput(
                f"a token expires within 1 s and {MAX_TOKEN_DAYS} days", field="expires_in_days"
            )
        token_id = secrets.token_hex(6)
        secret = secret or secrets.token_urlsafe(32)
        t = now_us()
        expires = None if expires_in_s is None else t + int(expires_in_s * 1e6)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO api_tokens ({_TOKEN_COLS}, secret_hash) VALUES "
                    "(:id, :u, :n, :k, :t, :e, NULL, NULL, :h)"
                ),
                {
                    "id": token_id,
                    "u": user_id,
                    "n": name.strip(),
                    "k": kind,
                    "t": t,
                    "e": expires,
                    "h": _sha256(secret),
                },
            )
        return self.token(token_id), f"{TOKEN_PREFIX}{token_id}_{secret}"

    def token(self, token_id: str) -> Token:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE id = :id"), {"id": token_id}
            ).first()
        if row is None:
            raise NotFound(f"no token with id '{token_id}'", field="token")
        return Token(*row)

    def tokens(self, user_id: str, kind: str = API) -> list[Token]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE user_id = :u AND kind = :k "
                    "ORDER BY created DESC, id"
                ),
                {"u": user_id, "k": kind},
            ).all()
        return [Token(*r) for r in rows]

    def revoke_token(self, user_id: str | None, token_id: str) -> None:
        """Revoke one of ``user_id``'s tokens (any token when None: an administrator)."""
        params: dict[str, Any] = {"id": token_id, "t": now_us()}
        sql = "UPDATE api_tokens SET revoked = :t WHERE id = :id AND revoked IS NULL"
        if user_id is not None:
            sql += " AND user_id = :u"
            params["u"] = user_id
        with self.engine.begin() as conn:
            done = conn.execute(text(sql), params)
        if not done.rowcount:
            raise NotFound(f"no active token with id '{token_id}'", field="token")

    def authenticate(self, token: str) -> User:
        """The user a token string belongs to; Unauthorized (never saying which part was
        wrong) when it is malformed, unknown, revoked, expired or its user disabled."""
        bad = Unauthorized(
            "the token is invalid, expired or revoked; create a new one (gep users token, "
            "POST /accounts/tokens) or log in again",
            field="Authorization",
        )
        if not token.startswith(TOKEN_PREFIX):
            raise bad
        token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
        if not sep or not token_id or not secret:
            raise bad
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT t.user_id, t.secret_hash, t.expires, t.revoked, u.disabled, "
                    "t.last_used FROM api_tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.id = :id"
                ),
                {"id": token_id},
            ).first()
        expected = row[1] if row is not None else _sha256("")
        matches = hmac.compare_digest(expected, _sha256(secret))
        t = now_us()
        if row is None or not matches or row[3] is not None or row[4]:
            raise bad
        if row[2] is not None and row[2] <= t:
            raise bad
        if row[5] is None or t - int(row[5]) > 60_000_000:  # last use, to the minute
            with self.engine.begin() as conn:
                conn.execute(
                    text("UPDATE api_tokens SET last_used = :t WHERE id = :id"),
                    {"t": t, "id": token_id},
                )
        return self.user(row[0])

    def ensure_bootstrap_admin(self, token: str, name: str = "admin") -> User:
        """The operator's admin account behind ``GEP_ADMIN_TOKEN`` (created on first start).

        The token given must look like one GEP issues (``gep_<id>_<secret>``), so that it is
        found the same way; it is stored hashed like any other.
        """
        if not token.startswith(TOKEN_PREFIX) or token.count("_") < 2:
            raise InvalidInput(
                "GEP_ADMIN_TOKEN must read gep_<id>_<secret> (gep users create --token prints one)",
                field="admin_token",
            )
        token_id, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
        try:
            user = self.user_by_name(name)
        except NotFound:
            user = self.create_user(name, role="admin")
        with self.engine.begin() as conn:
            row = conn.execute(
                text("SELECT user_id, secret_hash FROM api_tokens WHERE id = :id"),
                {"id": token_id},
            ).first()
            if row is not None and (row[0] != user.id or row[1] != _sha256(secret)):
                raise Conflict("GEP_ADMIN_TOKEN's id is taken by another token", field="token")
            if row is None:
                conn.execute(
                    text(
                        f"INSERT INTO api_tokens ({_TOKEN_COLS}, secret_hash) VALUES "
                        "(:id, :u, 'GEP_ADMIN_TOKEN', :k, :t, NULL, NULL, NULL, :h)"
                    ),
                    {"id": token_id, "u": user.id, "k": API, "t": now_us(), "h": _sha256(secret)},
                )
        return user
