"""The one access rule of the portal.

The API, the admin, the pages and the management commands all ask here, so that
rules tighten in one place.
"""

from rest_framework import permissions

READ_ACTIONS = {"view"}
AUDITORS_GROUP = "auditors"


def namespace_path(obj):
    """The path of the namespace `obj` lives in, following its model's `namespace_lookup`
    (e.g. "catalog_model__namespace__path"); None for rows outside namespaces."""
    lookup = getattr(obj, "namespace_lookup", None)
    if lookup is None:
        return None
    value = obj
    for attribute in lookup.split("__"):
        value = getattr(value, attribute, None)
        if value is None:
            return None
    return value


def can_view_audit(user):
    """The audit trail and its pages are for auditors (and superusers)."""
    return bool(
        user is not None and user.is_authenticated and user.is_active
        and (user.is_superuser or user.groups.filter(name=AUDITORS_GROUP).exists())
    )


def can(user, action, model_or_obj):
    """May `user` `action` ("view", "add", "change", "delete") this model or object?"""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if action in READ_ACTIONS:
        return True
    opts = model_or_obj._meta
    return user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


def restrict(queryset, user, action="view"):
    """The rows of `queryset` that `user` may `action`."""
    return queryset if can(user, action, queryset.model) else queryset.none()


METHOD_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


class PortalPermission(permissions.BasePermission):
    """DRF's face of `can`: anonymous gets 401, a forbidden write 403."""

    def _action(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return "view"
        return getattr(view, "access_action", None) or METHOD_ACTIONS.get(request.method, "change")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        action = self._action(request, view)
        if action not in READ_ACTIONS and getattr(request.auth, "read_only", False):
            self.message = "This token is read-only."
            return False
        model = getattr(getattr(view, "queryset", None), "model", None)
        return model is None or can(request.user, action, model)

    def has_object_permission(self, request, view, obj):
        return can(request.user, self._action(request, view), obj)
