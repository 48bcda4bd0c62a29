"""The API's JSON parser: DRF's, refusing bodies nested too deep to handle."""

import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from mlportal.jsonvalues import MAX_BODY_DEPTH, too_deep


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
