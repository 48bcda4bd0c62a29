import json
import re

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from deployments import models as deployment_models
from mlportal import access
from mlportal.pages import search, timeline

register = template.Library()

EMPTY = ("", None, {}, [])


@register.filter
def can_view_audit(user):
    return access.can_view_audit(user)


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, sort_keys=True)


@register.filter
def get_item(mapping, key):
    return mapping.get(key)


@register.simple_tag(takes_context=True)
def with_param(context, name, value=None):
    """This page's query string with `name` set to `value` (None: removed), back on page 1."""
    params = context["request"].GET.copy()
    params.pop("page", None)
    if value is None or value == "":
        params.pop(name, None)
    else:
        params[name] = value
    return "?" + params.urlencode()


@register.filter
def changed_fields(change):
    """[(field, before, after)] of the top-level fields a recorded change altered."""
    before = change.prechange_data or {}
    after = change.postchange_data or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return [(name, before.get(name), after.get(name))
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
            # A new row's empty fields say nothing.
            and (change.prechange_data is not None or after.get(name) not in EMPTY)]


@register.filter
def short_json(value, limit=120):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def endpoint_url(endpoint):
    """The endpoint page of `endpoint`."""
    return search.endpoint_url(endpoint)


@register.simple_tag
def match_reasons(row, q):
    """What matched the search in `row` besides its own name: [(label, value)]."""
    return search.reasons(row, q)


@register.filter
def deprecation_warnings(version):
    """A deprecated version that still serves an endpoint or that an alias names."""
    return deployment_models.deprecation_warnings(version)


@register.filter
def version_colour(number):
    """A version's colour on every timeline: it follows its number."""
    return timeline.colour_of(int(number))


@register.filter
def breakable(text):
    """`text` (an ARN, a URL) allowed to wrap after its separators, not inside its words."""
    return mark_safe(re.sub(r"([/:@._-])", r"\1<wbr>", escape(str(text))))


@register.simple_tag
def edit_url(user, obj):
    """The admin page where `user` may change `obj`, or "" when they may not."""
    if not access.can(user, "change", obj):
        return ""
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
