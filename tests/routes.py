"""The URLs the portal serves, found from the URL conf, so that tests cover new ones as they
are added."""

import re

from django.urls import URLResolver, get_resolver

IGNORED_METHODS = {"head", "options", "trace"}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def normalise(route):
    """"api/v1/^models/(?P<pk>[^/.]+)/$" -> "/api/v1/models/{pk}/"."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("^", "").replace("$", "")


def _methods(callback):
    actions = getattr(callback, "actions", None)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if actions is not None:  # a DRF viewset route: what it maps and the viewset allows
        return sorted(
            method.upper() for method in actions
            if method not in IGNORED_METHODS and method in view_class.http_method_names
        )
    if view_class is None:
        return ["GET"]
    return sorted(
        method.upper() for method in view_class.http_method_names
        if method not in IGNORED_METHODS and hasattr(view_class, method)
    )


def api_endpoints():
    """{(route, method)} of every endpoint under /api/v1/."""
    return {
        (normalise(route), method)
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith("api/v1/")
        for method in _methods(pattern.callback)
    }


def pages():
    """Routes of the pages outside the admin and the API's resources, such as the search pages
    (GET, with their arguments still as {name})."""
    return sorted({
        normalise(route) for route, pattern in _walk(get_resolver().url_patterns)
        if not route.startswith(("admin/", "api/v1/")) and "GET" in _methods(pattern.callback)
    })
