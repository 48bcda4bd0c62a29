"""The API's JSON parser: DRF's, refusing bodies nested too deep to handle."""

import io
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Far above any document the API takes; the fields that store JSON bound it further
# (catalog.jsonschemas.MAX_SCHEMA_DEPTH, catalog.validators.MAX_CONNECTION_DEPTH).
MAX_BODY_DEPTH = 256

# Brackets outside strings, and the strings themselves (to skip them, and to know the keys).
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def too_deep(raw, limit=MAX_BODY_DEPTH):
    """None when the JSON text `raw` (bytes) nests at most `limit` levels; else the top-level
    key under which it nests deeper ("" when the body is not an object). Reads the text
    without parsing it, so that no nesting can exhaust the stack."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None  # too few brackets to nest that deep: the common case costs two counts
    depth, key, top_is_object = 0, "", False
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            if depth == 0:
                top_is_object = token == b"{"
            depth += 1
            if depth > limit:
                return key if top_is_object else ""
        elif token in (b"]", b"}"):
            depth -= 1
        elif depth == 1 and top_is_object:
            key = token[1:-1].decode(errors="replace")  # the last string at the top: a key
    return None


class JSONParser(parsers.JSONParser):
    """JSON, nested at most MAX_BODY_DEPTH levels: deeper bodies are a 400 naming the field
    they are deep in, instead of exhausting the interpreter's stack in the parser or in a
    validator (RecursionError, a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        key = too_deep(raw)
        if key is not None:
            message = f"Nested more than {MAX_BODY_DEPTH} levels deep."
            raise ParseError({key: [message]} if key else
                             f"JSON parse error - the body is nested more than "
                             f"{MAX_BODY_DEPTH} levels deep.")
        return super().parse(io.BytesIO(raw), media_type, parser_context)
