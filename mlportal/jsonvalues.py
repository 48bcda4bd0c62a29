"""Checks for JSON values that the portal stores (schemas, connections): bounded nesting, and
text that PostgreSQL can keep (its jsonb refuses NUL and unpaired UTF-16 surrogates)."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Far above any document the portal takes; the fields that store JSON bound it further
# (catalog.jsonschemas.MAX_SCHEMA_DEPTH, catalog.validators.MAX_CONNECTION_DEPTH).
MAX_BODY_DEPTH = 256

# Brackets outside strings, and the strings themselves (to skip them, and to know the keys).
# Possessive, and the closing quote optional: an unterminated string is one token to the end,
# so that the scan stays linear whatever the text.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+"?|[\[\]{}]')


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


def deepest(value, limit):
    """The path (a list of keys and indexes) to the first place nested deeper than `limit`
    levels, or None. Iterative, so that any nesting is measured without recursion."""
    stack = [(value, 0, None)]
    while stack:
        node, depth, path = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth >= limit:
            parts = []
            while path is not None:
                path, key = path
                parts.append(key)
            return parts[::-1]
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, depth + 1, (path, key)) for key, child in items)
    return None


def _unstorable_text(value):
    """The first string (key or value) holding NUL or an unpaired surrogate, or None."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if UNSTORABLE.search(node):
                return node
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def validate_storable_json(value, *, max_depth, what="This value"):
    """A ValidationError naming the problem when `value` nests deeper than `max_depth` levels
    or holds text that cannot be stored."""
    path = deepest(value, max_depth)
    if path is not None:
        where = "/".join(str(part) for part in path)
        raise ValidationError(
            f"{what} is nested more than {max_depth} levels deep (at {where}).",
            code="too_deep")
    text = _unstorable_text(value)
    if text is not None:
        raise ValidationError(
            f"{what} holds a NUL character (\\u0000) or an unpaired UTF-16 surrogate "
            f"(\\ud800-\\udfff), which cannot be stored: {text[:40]!r}.",
            code="unstorable_text")


class JSONFormField(forms.JSONField):
    """Django's JSON form field (the admin's), refusing text nested deeper than
    MAX_BODY_DEPTH before parsing it, instead of exhausting the stack."""

    def to_python(self, value):
        self.refuse_too_deep(value)
        return super().to_python(value)

    @staticmethod
    def refuse_too_deep(value):
        if isinstance(value, str) and too_deep(value.encode()) is not None:
            raise ValidationError(f"Nested more than {MAX_BODY_DEPTH} levels deep.",
                                  code="too_deep")

    def bound_data(self, data, initial):
        if isinstance(data, str) and too_deep(data.encode()) is not None:
            return InvalidJSONInput(data)  # shown again as it was typed, with the error
        return super().bound_data(data, initial)
