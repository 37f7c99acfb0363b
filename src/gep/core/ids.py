"""The one rule for the ids users give to collections, items and deployed processes.

An id travels in URL paths (percent-encoded), in file names under the server's storage (a job's
folder, a quicklook's cache entry), in log lines and in error texts. The rule keeps out what
would change meaning in any of these — a path separator, the path segments ``.`` and ``..``,
control characters (NUL among them) that end or forge a line, whitespace at either end that no
one sees — and accepts everything else, so that the product names of the archives harvested
(``S1A_IW_SLC__1SDV_20220104T170557_…``, ``S2A_MSIL1C_….SAFE``, gazetteer ids with ``:``) go
in unchanged.

The rule, also published as :data:`ID_PATTERN` (a regular expression) and in the API document:

* 1 to 256 characters;
* not ``.`` or ``..`` as the whole id;
* no ``/``, no ``\\``, no control character (U+0000–U+001F, U+007F–U+009F, and the line and
  paragraph separators U+2028, U+2029);
* no whitespace at the start or the end.
"""

from __future__ import annotations

import re

from gep.core.errors import InvalidInput

MAX_ID_LENGTH = 256
#: the rule above as one regular expression that Python, ECMAScript and JSON Schema
#: validators read alike: ``(?![\s\S])`` is the true end of the text, where ``$`` would let
#: Python accept a trailing newline
ID_PATTERN = (
    r"^(?!\.\.?(?![\s\S]))(?!\s)[^/\\\u0000-\u001f\u007f-\u009f\u2028\u2029]{1,256}"
    r"(?<!\s)(?![\s\S])"
)
_ID = re.compile(ID_PATTERN)
#: what an error says the id must look like
ID_RULE = (
    "1 to 256 characters, not '.' or '..', without '/', '\\' or control characters, "
    "and without spaces at either end"
)


def check_id(value: object, field: str = "id", what: str = "id") -> str:
    """``value`` when it is a valid id; otherwise a 400 naming ``field`` and the rule.

    The offending value is shown escaped (``repr``): it may hold the very characters that
    would garble the message.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string: {ID_RULE}", field=field)
    if _ID.fullmatch(value) is None:
        shown = ascii(value[:64]) + ("…" if len(value) > 64 else "")
        raise InvalidInput(f"{what} {shown} is not a valid id: {ID_RULE}", field=field)
    return value


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None
