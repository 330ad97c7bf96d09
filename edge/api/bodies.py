"""Request bodies nested too deeply for the JSON decoder are refused with a 400 before it sees them.

msgspec decodes nested arrays and objects recursively and raises ``RecursionError`` (not a decode
error) past Python's recursion limit; Litestar's ``decode_json`` lets that through, so 2 KB of ``[``
made every JSON endpoint answer 500 (found by the ``api.json_parser`` fuzz target). No body of this
API nests more than a few levels, so anything past ``MAX_JSON_DEPTH`` is refused by ``before_request``,
which runs before the body is decoded into the handler's argument.
"""

from __future__ import annotations

import re
from itertools import accumulate

from litestar import Request
from litestar.exceptions import ValidationException

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)  # brackets inside strings do not nest
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of ``body`` nest (of a body that is not JSON: its brackets)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def check_json_depth(body: bytes) -> None:
    """Raise a 400 for a body nested past ``MAX_JSON_DEPTH``."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # the common case: two scans in C
        return
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ValidationException(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")


async def refuse_deep_json(request: Request) -> None:  # type: ignore[type-arg]
    """``before_request`` hook of the app: the body is read (and kept for the handler) and checked."""
    if request.method in ("POST", "PUT", "PATCH"):
        check_json_depth(await request.body())
