"""Request bodies of uploads, streamed to a local file as they arrive, never held in memory.

``multipart/form-data`` is parsed incrementally (python-multipart's streaming parser), the one
file part written straight to disk and the few text fields kept small; a raw body (a chunk of a
resumable upload) is written as is. Both stop storing once a limit is passed but say how big
the file really was, so that a quota refusal can give the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from gep.core.errors import InvalidInput, UnsupportedMediaType

#: the text fields a form may carry besides ``file``, and their largest size
MAX_FIELD_BYTES = 4096
MAX_PARTS = 8


@dataclass
class FormUpload:
    """The file of a form (written to ``path``) and its text fields."""

    path: Path
    filename: str = ""
    #: bytes the file part held (past ``limit`` they were counted, not written)
    size: int = 0
    over: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    seen_file: bool = False


class _FormReader:
    """The parser's callbacks: one file part to disk, text parts to memory (bounded)."""

    def __init__(self, form: FormUpload, file_field: str, allowed: set[str], limit: int) -> None:
        self.form = form
        self.file_field = file_field
        self.allowed = allowed
        self.limit = limit
        self.parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self._field: str | None = None
        self._text = bytearray()
        self._out: IO[bytes] | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidInput(
                f"the form has more than {MAX_PARTS} parts; send the file and its fields only",
                field="body",
            )
        self._headers, self._field, self._text = {}, None, bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._name.strip().lower()] = self._value.strip()
        self._name, self._value = b"", b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == self.file_field:
            if self.form.seen_file:
                raise InvalidInput(
                    f"the form holds more than one '{self.file_field}'; send one file per upload",
                    field=self.file_field,
                )
            raw = params.get(b"filename")
            filename = raw.decode("utf-8", "replace").strip() if raw is not None else ""
            if not filename:
                raise InvalidInput(
                    f"the '{self.file_field}' part has no file name (Content-Disposition: "
                    'form-data; name="file"; filename="…")',
                    field=self.file_field,
                )
            self.form.filename = filename.replace("\\", "/").rsplit("/", 1)[-1][:256]
            self.form.seen_file = True
            self._out = open(self.form.path, "wb")  # noqa: SIM115 (closed at the part's end)
            return
        if name not in self.allowed:
            accepted = ", ".join(sorted({self.file_field, *self.allowed}))
            raise InvalidInput(
                f"the form has a field '{name[:64]}' that is not accepted here (only {accepted})",
                field=name[:64] or "body",
            )
        if name in self.form.fields:
            raise InvalidInput(f"the form gives '{name}' twice", field=name)
        self._field = name

    def part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self._out is not None:
            if not self.form.over and self.form.size + n <= self.limit:
                self._out.write(data[start:end])
            else:
                self.form.over = True
            self.form.size += n
            return
        if self._field is not None:
            if len(self._text) + n > MAX_FIELD_BYTES:
                raise InvalidInput(
                    f"the form field '{self._field}' is longer than {MAX_FIELD_BYTES} bytes",
                    field=self._field,
                )
            self._text += data[start:end]

    def part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        elif self._field is not None:
            self.form.fields[self._field] = self._text.decode("utf-8", "replace").strip()
            self._field = None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_form(
    request: Request,
    dest: Path,
    *,
    file_field: str = "file",
    fields: set[str] | None = None,
    limit: int,
) -> FormUpload:
    """Stream a ``multipart/form-data`` body: its one file into ``dest`` (at most ``limit``
    bytes written; past that ``over`` is set and the rest only counted), its text fields
    (``fields`` names those accepted) into memory."""
    ctype = request.headers.get("content-type", "")
    media, params = parse_options_header(ctype)
    boundary = params.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            f"content type '{ctype[:100]}' is not accepted here; send multipart/form-data "
            f"with the file in the field '{file_field}'",
            field="Content-Type",
        )
    form = FormUpload(dest)
    reader = _FormReader(form, file_field, fields or set(), limit)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except InvalidInput:
        raise
    except Exception as exc:  # the parser's own errors: a malformed body
        raise InvalidInput(
            f"the body is not a well-formed multipart/form-data document ({exc})", field="body"
        ) from None
    finally:
        reader.close()
    if not form.seen_file:
        raise InvalidInput(
            f"the form has no '{file_field}' part: send the file as the field '{file_field}'",
            field=file_field,
        )
    return form


async def receive_body(request: Request, dest: Path, *, expected: int) -> int:
    """Stream a raw body into ``dest``; it must hold exactly ``expected`` bytes (a chunk of a
    resumable upload, as its Content-Range says). Returns the bytes written."""
    written = 0
    with open(dest, "wb") as out:
        try:
            async for chunk in request.stream():
                written += len(chunk)
                if written > expected:
                    raise InvalidInput(
                        f"the body is longer than the {expected} bytes its Content-Range announces",
                        field="Content-Range",
                    )
                out.write(chunk)
        except ClientDisconnect:
            raise InvalidInput(
                f"the connection was lost after {written} of {expected} bytes; send the chunk "
                "again",
                field="body",
            ) from None
    if written != expected:
        raise InvalidInput(
            f"the body holds {written} bytes, not the {expected} its Content-Range announces",
            field="Content-Range",
        )
    return written
