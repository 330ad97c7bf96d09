"""Request bodies nested too deeply for the JSON decoder are refused with a 400 before it sees them.

msgspec decodes nested arrays and objects recursively and raises ``RecursionError`` (not a decode
error) past Python's recursion limit; Litestar's ``decode_json`` lets that through, so 2 KB of ``[``
made every JSON endpoint answer 500 (found by the ``api.json_parser`` fuzz target). No body of this
API nests more than a few levels, so anything past ``MAX_JSON_DEPTH`` is refused by ``before_request``,
which runs before the body is decoded into the handler's argument.
"""

from __future__ import annotations

import re

from litestar import Request
from litestar.exceptions import ValidationException

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # brackets inside strings do not nest
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _outside_strings(body: bytes) -> bytes:
    if b"\\" in body:  # an escaped quote does not end a string
        return _STRING.sub(b"", body)
    return b"".join(body.split(b'"')[::2])


def too_deep(body: bytes) -> bool:
    """Whether the arrays and objects of ``body`` nest deeper than ``MAX_JSON_DEPTH``.

    In C-speed passes, not a loop over bytes (a 64 kB body of brackets costs a millisecond or two): with
    strings cut out and brackets as parentheses, each ``replace("()", "")`` removes the innermost level,
    so a body of depth d is gone after d passes. Brackets left that never close (not JSON: a 400 anyway)
    are counted as levels too.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # the common case: two scans
        return False
    steps = _outside_strings(body).translate(_AS_PARENS, _NOT_BRACKETS)
    for passes in range(MAX_JSON_DEPTH + 1):
        shorter = steps.replace(b"()", b"")
        if len(shorter) == len(steps):
            return passes + steps.count(b"(") > MAX_JSON_DEPTH
        steps = shorter
    return True


def check_json_depth(body: bytes) -> None:
    """Raise a 400 for a body nested past ``MAX_JSON_DEPTH``."""
    if too_deep(body):
        raise ValidationException(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")


async def refuse_deep_json(request: Request) -> None:  # type: ignore[type-arg]
    """``before_request`` hook of the app: the body is read (and kept for the handler) and checked."""
    if request.method in ("POST", "PUT", "PATCH"):
        check_json_depth(await request.body())
