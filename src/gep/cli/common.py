"""What every CLI command shares: where the server is and who the caller is, how answers are
shown (a table, or JSON with ``--json``) and how errors are shown (one line with a hint; the
traceback only with ``gep --debug``).

Commands that users run talk to a GEP server through the SDK (:func:`client`), so the same
command works against ``gep serve`` on this machine or a remote GEP. Only administrative
commands that must reach the database itself (``gep db upgrade``, ``gep serve``, ``gep demo``,
``gep users create`` before an administrator exists…) use :func:`store_from_settings`, and say
so in their help. Heavy modules are imported inside commands, never here, so that ``gep
--help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from gep.catalog.store import CatalogStore
    from gep.client import GepClient
    from gep.settings import Settings

console = Console(stderr=True, soft_wrap=True)
#: what commands print as their answer (tables, JSON): standard output, never wrapped by rich
out = Console(soft_wrap=True)
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"

#: ``--json`` on every command that answers something: the API's JSON instead of a table
JSON_OPTION = typer.Option(False, "--json", help="Print the answer as JSON instead of a table")

#: tests point the CLI at an in-process app through this (a callable returning a GepClient)
CLIENT_FACTORY: list[Callable[[], GepClient]] = []

#: set by ``gep --url``: wins over GEP_URL and the saved login
URL_OVERRIDE: list[str] = []


def settings() -> Settings:
    from gep.settings import Settings

    return Settings()


# ---------------------------------------------------------------------- the saved login
def config_path() -> Path:
    """Where ``gep login`` keeps the server's address and the token: the user's config folder
    (``$XDG_CONFIG_HOME/gep/config.json``), readable by them only."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gep" / "config.json"


def read_config() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_config(data: dict[str, Any]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
    return path


def server_url() -> str:
    """``--url``, else GEP_URL (GEP_BASE_URL, its older name), else the saved login's, else
    the local default."""
    for value in (
        *URL_OVERRIDE,
        os.environ.get("GEP_URL"),
        os.environ.get("GEP_BASE_URL"),
        read_config().get("url"),
    ):
        if value:
            return str(value).rstrip("/")
    return DEFAULT_URL


def server_token(url: str) -> str | None:
    """GEP_TOKEN, else the token ``gep login`` saved for this server."""
    if os.environ.get("GEP_TOKEN"):
        return os.environ["GEP_TOKEN"]
    saved = read_config()
    if saved.get("token") and str(saved.get("url", "")).rstrip("/") == url:
        return str(saved["token"])
    return None


def client() -> GepClient:
    """The SDK on the server this command talks to, as the caller."""
    if CLIENT_FACTORY:
        return CLIENT_FACTORY[0]()
    from gep.client import GepClient

    url = server_url()
    return GepClient(url, token=server_token(url))


# ---------------------------------------------------------------------- answers
def emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


#: a folding column narrower than its header or values' this many characters is unreadable:
#: the table turns into records instead
MIN_FOLD_WIDTH = 10


def emit_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    whole: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """A table on standard output. Columns named in ``whole`` (ids) are never cut or wrapped:
    the other columns fold around them. No vertical rules: the columns get the room (a job
    list with whole ids fits in 80 columns). When the whole columns leave the others too
    little room (long item ids on a narrow terminal), each row becomes a record instead: its
    ids on one line, the other fields below them, so that nothing is folded letter by
    letter."""
    from rich import box
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(name)] + [len(r[i]) for r in cells]) for i, name in enumerate(columns)]
    kept = sum(w + 1 for name, w in zip(columns, widths, strict=True) if name in whole)
    folding = [min(w, MIN_FOLD_WIDTH) for name, w in zip(columns, widths, strict=True)
               if name not in whole]  # fmt: skip
    if folding and whole and out.width - kept - 2 * len(folding) < sum(folding):
        _emit_records(columns, cells, whole, title)
        return
    table = Table(
        title=title, expand=False, pad_edge=False, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0)
    )
    for i, name in enumerate(columns):
        if name in whole:
            table.add_column(name, no_wrap=True, overflow="ignore", min_width=widths[i])
        else:
            table.add_column(name, overflow="fold")
    for row in cells:
        table.add_row(*row)
    out.print(table)


def _emit_records(
    columns: Sequence[str], cells: Sequence[Sequence[str]], whole: Sequence[str], title: str | None
) -> None:
    """Rows as records: the id on a line of its own (several ids: one ``name: id`` line
    each), ``name: value`` of the other columns indented below (wrapped between fields,
    never inside an id)."""
    from rich.text import Text

    if title:
        out.print(title, style="bold", highlight=False)
    for row in cells:
        ids = [(name, v) for name, v in zip(columns, row, strict=True) if name in whole]
        for name, v in ids:
            line = v if len(ids) == 1 else f"{name}: {v}"
            out.print(Text(line, style="bold", no_wrap=True, overflow="ignore"), crop=False)
        rest = [f"{name}: {v}" for name, v in zip(columns, row, strict=True)
                if name not in whole and v]  # fmt: skip
        line = ""
        for field in rest:  # wrapped between fields, so that no value is split
            if line and len(line) + 3 + len(field) > out.width:
                out.print(Text(line), crop=False)
                line = ""
            line = f"{line}   {field}" if line else f"    {field}"
        if line:
            out.print(Text(line), crop=False)


def emit(
    data: Any,
    as_json: bool,
    columns: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
    *,
    whole: Sequence[str] = (),
    empty: str = "nothing to show",
) -> None:
    """``--json``: ``data`` as JSON; otherwise ``rows`` as a table (``empty`` when none)."""
    if as_json:
        emit_json(data)
    elif not rows:
        console.print(empty)
    else:
        emit_table(columns, rows, whole=whole)


# ---------------------------------------------------------------------- errors
def unreachable(url: str) -> str:
    """What a command says when no server answers at ``url``."""
    return f"cannot reach {url} — is `gep serve` running? set GEP_URL (or gep --url, gep login)"


def _transport_error(exc: BaseException) -> bool:
    """An httpx failure to reach the server (told apart without importing httpx here)."""
    return any(
        c.__module__.startswith("httpx") and c.__name__ in ("TransportError", "ConnectError")
        for c in type(exc).__mro__
    )


def error_line(exc: BaseException) -> str:
    """The one line a failed command prints: the problem's detail, the field it names."""
    from gep.client.errors import GepClientError

    if _transport_error(exc):
        return unreachable(server_url())
    if isinstance(exc, GepClientError):
        where = f" (field: {exc.field})" if exc.field else ""
        status = f" [HTTP {exc.status}]" if exc.status else ""
        return f"{exc.detail}{where}{status}"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as the command's error and return the Exit to raise."""
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def read_json_object(source: str) -> dict[str, Any]:
    """A JSON object from a file, or from standard input with ``-`` (documents can be piped
    in); an unreadable file or anything but an object is the command's one-line error."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{source} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise fail(f"{source} must hold a JSON object")
    return doc


@contextmanager
def store_from_settings(upgrade: bool = True) -> Iterator[CatalogStore]:
    """The database itself (administrative commands only: they run on the server's machine)."""
    from gep.catalog.backends import open_store

    s = settings()
    store = open_store(s.resolved_database_url())
    try:
        if upgrade:
            store.upgrade()  # idempotent: a no-op at head, applies new migrations after updates
        yield store
    finally:
        store.close()


def run_or_exit(fn: Callable[[], T]) -> T:
    """Show a GepError as one readable line and exit 2, instead of a traceback."""
    from gep.core.errors import GepError

    try:
        return fn()
    except GepError as exc:
        raise fail(exc.message) from None


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("GEP_DEBUG", "") not in ("", "0")


#: set by ``gep --debug``: failures raise with their traceback instead of one line
DEBUG: list[bool] = []


def expected_failure(exc: BaseException) -> bool:
    """A failure the user can act on from its one line: the server's problem, the SDK's
    refusal of an argument, an unreachable server, a GepError of a local command."""
    from gep.client.errors import GepClientError
    from gep.core.errors import GepError

    return isinstance(exc, GepClientError | GepError) or _transport_error(exc)


class CliGroup(TyperGroup):
    """The root ``gep`` group: an expected failure of any command below it becomes one line
    on standard error and exit status 2 (the same in tests, which call the app without
    :func:`run_main`), unless ``--debug`` or GEP_DEBUG asks for the traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if DEBUG or debug_requested([]) or not expected_failure(exc):
                raise  # typer's Exit and usage errors too: they are not failures to reword
            raise fail(error_line(exc)) from None


def resolve_job(gep: GepClient, ref: str) -> str:
    """The whole id of the job that ``ref`` names: its id, or the start of exactly one id
    the caller may see. Several matches are an error listing them; none, not found."""
    ref = ref.strip()
    if not ref:
        raise fail("a job id (or the start of one) is required")
    answer = gep._json(gep.http.get("/jobs", params={"prefix": ref, "limit": 10}))
    ids = [str(j["jobID"]) for j in answer.get("jobs", []) if str(j["jobID"]).startswith(ref)]
    if ref in ids:
        return ref
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise fail(f"job '{ref}' does not exist (no job you may see has an id starting so)")
    more = int(answer.get("numberMatched", len(ids))) - len(ids)
    listed = ", ".join(ids) + (f" and {more} more" if more > 0 else "")
    raise fail(f"'{ref}' is ambiguous: it starts {listed}; type more of the id")


def run_main(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Run the CLI: SDK errors, unreachable servers and other failures become one line on
    standard error (exit 2, or 1 for an unexpected failure) unless ``--debug`` asks for the
    traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(args)
    try:
        app(args=args, prog_name="gep")
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        from gep.client.errors import GepClientError
        from gep.core.errors import GepError

        expected = isinstance(exc, GepClientError | GepError)
        hint = "" if expected else " (run `gep --debug …` for the traceback)"
        prefix = "" if expected else f"{type(exc).__name__}: "
        console.print(f"[red]error:[/red] {prefix}{error_line(exc)}{hint}", highlight=False)
        raise SystemExit(2 if expected else 1) from None
