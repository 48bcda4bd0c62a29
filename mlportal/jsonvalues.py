"""Checks for JSON values that the portal stores (schemas, connections): bounded nesting, and
text that PostgreSQL can keep (its jsonb refuses NUL and unpaired UTF-16 surrogates)."""

import re

from django.core.exceptions import ValidationError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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
