"""The one access rule of the portal.

The API, the admin, the pages and the management commands all ask here, so that
rules tighten in one place:

- every signed-in user reads the catalog, the registry and the deployments;
- writes need a grant: a user holding a grant (directly or through a group) on a
  namespace may write every row in that namespace and below it. `editor` writes the
  rows; `owner` also manages the grants there. Superusers may do anything;
- the audit trail is read by the `auditors` group (and superusers) only, and
  auditors write nothing.

A model says how it is governed with class attributes:

- `namespace_lookup` ("catalog_model__namespace__path"): the row lives in that
  namespace; writing it needs a grant there or above;
- `shared_namespaces_lookup` ("models__namespace__path"): the row is shared by rows in
  many namespaces (data sources); any editor may add one, changing or deleting it needs
  a grant on every namespace that uses it (an unused one: any editor);
- `user_field` ("user"): the row belongs to a user (tokens): only they (and
  superusers) see and change it;
- `auditors_only = True`: the audit trail;
- `write_role`: the role writing needs (default `editor`; grants need `owner`);
- `read_role`: reading too needs a grant with this role (webhook subscriptions and their
  deliveries: owners of the namespace).

Any other model is read by every signed-in user and written by superusers only.
"""

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from rest_framework import permissions

from mlportal.choices import Role
from mlportal.context import acting_user

READ_ACTIONS = {"view"}
AUDITORS_GROUP = "auditors"
EDITOR, OWNER = Role.EDITOR, Role.OWNER
# The roles that include a role: an owner is also an editor.
ROLES_INCLUDING = {EDITOR: {EDITOR, OWNER}, OWNER: {OWNER}}


NAMESPACE_SEGMENT = r"[a-z0-9][a-z0-9_-]*"
validate_namespace_path = RegexValidator(
    rf"^(/{NAMESPACE_SEGMENT})+\Z",
    "A namespace is a path such as /abc_corp/claim: a leading slash, lowercase segments of "
    "letters, digits, '_' and '-' (each starting with a letter or digit), no trailing slash.",
    code="invalid_namespace",
)


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


def within(path, paths):
    """Is namespace `path` one of `paths` or below one of them?"""
    return any(path == granted or path.startswith(granted + "/") for granted in paths)


def within_q(lookup, paths):
    """Q for rows whose namespace path (`lookup`) is one of `paths` or below one of them."""
    condition = Q(**{f"{lookup}__in": list(paths)})
    for path in paths:
        condition |= Q(**{f"{lookup}__startswith": path + "/"})
    return condition


def _signed_in(user):
    return user is not None and user.is_authenticated and user.is_active


def is_auditor(user):
    """In the auditors group (cached on the user object, like Django's permissions)."""
    if not _signed_in(user):
        return False
    if not hasattr(user, "_portal_auditor"):
        user._portal_auditor = user.groups.filter(name=AUDITORS_GROUP).exists()
    return user._portal_auditor


def can_view_audit(user):
    """The audit trail and its pages are for auditors (and superusers)."""
    return _signed_in(user) and (user.is_superuser or is_auditor(user))


def grants_of(user):
    """{namespace path: role} of the user's grants, direct or through a group, the strongest
    role per path (cached on the user object for the request)."""
    if not _signed_in(user):
        return {}
    if not hasattr(user, "_portal_grants"):
        from mlportal.models import Grant

        grants = {}
        rows = Grant.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
            "namespace__path", "role"
        )
        for path, role in rows:
            if grants.get(path) != OWNER:
                grants[path] = role
        user._portal_grants = grants
    return user._portal_grants


def granted_paths(user, role=EDITOR):
    """The namespace paths where `user` holds `role` (or a role including it)."""
    return sorted(path for path, held in grants_of(user).items() if held in ROLES_INCLUDING[role])


def required_role(model):
    return getattr(model, "write_role", EDITOR)


def can_write_namespace(user, path, role=EDITOR):
    """May `user` write (with `role`) in the namespace at `path`, existing or not?

    Editors create sub-namespaces below their grants; only superusers create top-level ones.
    """
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    return not is_auditor(user) and within(path, granted_paths(user, role))


def shared_namespace_paths(obj):
    """The namespaces of the rows sharing `obj` (a data source: the models it feeds)."""
    if obj.pk is None:
        return set()
    model = obj._meta.model
    paths = model._base_manager.filter(pk=obj.pk).values_list(
        model.shared_namespaces_lookup, flat=True
    )
    return {path for path in paths if path is not None}


def governed(model):
    """Does the rule say more about `model` than "signed-in users read, superusers write"?"""
    return any(
        getattr(model, attribute, None)
        for attribute in ("namespace_lookup", "shared_namespaces_lookup", "user_field")
    )


def can(user, action, model_or_obj, *, role=None):
    """May `user` `action` ("view", "add", "change", "delete") this model or object?

    On a model (no object) a write means "somewhere": a user with any grant may add
    catalog models; which namespace is checked on the object (or with
    `can_write_namespace` before it exists).
    """
    if not _signed_in(user):
        return False
    model = model_or_obj._meta.model
    obj = None if isinstance(model_or_obj, type) else model_or_obj
    if getattr(model, "auditors_only", False):
        return action in READ_ACTIONS and can_view_audit(user)
    user_field = getattr(model, "user_field", None)
    if user_field:
        return (user.is_superuser or obj is None
                or getattr(obj, f"{user_field}_id") == user.pk)
    if user.is_superuser or (action in READ_ACTIONS and not getattr(model, "read_role", None)):
        return True
    if action in READ_ACTIONS:
        role = role or model.read_role
    namespaced = getattr(model, "namespace_lookup", None)
    shared = getattr(model, "shared_namespaces_lookup", None)
    if is_auditor(user) or not (namespaced or shared):
        return False
    paths = granted_paths(user, role or required_role(model))
    if not paths:
        return False
    if obj is None:
        return True
    if namespaced:
        path = namespace_path(obj)
        return path is not None and within(path, paths)
    return all(within(path, paths) for path in shared_namespace_paths(obj))


def restrict(queryset, user, action="view", *, role=None):
    """The rows of `queryset` that `user` may `action`."""
    model = queryset.model
    if not _signed_in(user):
        return queryset.none()
    if getattr(model, "auditors_only", False):
        return queryset if action in READ_ACTIONS and can_view_audit(user) else queryset.none()
    user_field = getattr(model, "user_field", None)
    if user_field:
        return queryset if user.is_superuser else queryset.filter(**{user_field: user})
    if user.is_superuser or (action in READ_ACTIONS and not getattr(model, "read_role", None)):
        return queryset
    if action in READ_ACTIONS:
        role = role or model.read_role
    paths = [] if is_auditor(user) else granted_paths(user, role or required_role(model))
    if not paths:
        return queryset.none()
    if getattr(model, "namespace_lookup", None):
        return queryset.filter(within_q(model.namespace_lookup, paths))
    if getattr(model, "shared_namespaces_lookup", None):
        relation, rest = model.shared_namespaces_lookup.split("__", 1)
        field = model._meta.get_field(relation)
        back = field.remote_field.name if field.auto_created else field.related_query_name()
        used_outside = field.related_model._base_manager.filter(
            **{back: OuterRef("pk")}
        ).exclude(within_q(rest, paths))
        return queryset.exclude(Exists(used_outside))
    return queryset.none()


def require(user, action, model_or_obj):
    """`can`, or PermissionDenied naming what is refused."""
    if not can(user, action, model_or_obj):
        raise PermissionDenied(refusal_reason(user, action, model_or_obj))


def refusal_reason(user, action, model_or_obj):
    """Why `can` says no, for the 403."""
    model = model_or_obj._meta.model
    what = model._meta.verbose_name
    if getattr(model, "auditors_only", False):
        return "The audit trail is for auditors."
    if getattr(model, "user_field", None):
        return f"This {what} is not yours."
    if is_auditor(user) and not user.is_superuser:
        return "Auditors read; they do not write."
    role = required_role(model)
    if getattr(model, "shared_namespaces_lookup", None):
        return (f"You may not {action} this {what}: that needs the {role} role on every "
                "namespace it serves, or a superuser.")
    if not getattr(model, "namespace_lookup", None):
        return f"Only superusers {action} {model._meta.verbose_name_plural}."
    path = None if isinstance(model_or_obj, type) else namespace_path(model_or_obj)
    return (f"You may not {action} this {what}{f' in {path}' if path else ''}: that needs "
            f"the {role} role on its namespace (a grant there or above).")


def _follow(value, lookup):
    for part in lookup.split("__"):
        if isinstance(value, models.Model):
            value = getattr(value, part, None)
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value if isinstance(value, str) else None


def target_namespaces(model, data):
    """The namespace paths that a write's (validated) data puts a row of `model` in.

    Follows the model's `namespace_lookup` through the data ({"namespace": {"path": ...}},
    {"catalog_model": <CatalogModel>}), else a plain "namespace" path, else the rows the new
    one hangs from (a deployment's <ModelVersion>). Empty when the data names none.
    """
    lookup = getattr(model, "namespace_lookup", None)
    found = ((_follow(data, lookup) if lookup else None) or _follow(data, "namespace__path")
             or _follow(data, "namespace"))
    if found:
        return {found}
    return {
        namespace_path(value) for value in data.values()
        if isinstance(value, models.Model) and getattr(value, "namespace_lookup", None)
    } - {None}


def require_target(user, model, data):
    """Refuse (PermissionDenied) a write whose data puts a row in a namespace outside the
    user's grants, before anything is saved."""
    role = required_role(model)
    for path in sorted(target_namespaces(model, data)):
        if can_write_namespace(user, path, role):
            continue
        if is_auditor(user) and not user.is_superuser:
            raise PermissionDenied("Auditors read; they do not write.")
        raise PermissionDenied(
            f"You may not write in {path}: that needs the {role} role on it or above "
            f"(your grants: {', '.join(granted_paths(user, role)) or 'none'})."
        )


def _guard_save(sender, instance, raw=False, **kwargs):
    if raw or not governed(sender):
        return
    user = acting_user()
    if user is not None:
        require(user, "add" if instance._state.adding else "change", instance)


def _guard_delete(sender, instance, **kwargs):
    if not governed(sender):
        return
    user = acting_user()
    if user is not None:
        require(user, "delete", instance)


def connect_guard():
    """Check every save and delete of a governed row made for a signed-in user, whatever the
    path (API action, admin form, inline, service, command with a user): the rule's backstop
    behind the explicit checks of the API and the admin. The surrounding transaction
    rolls the refused write back."""
    models.signals.pre_save.connect(_guard_save, dispatch_uid="access_guard_save")
    models.signals.pre_delete.connect(_guard_delete, dispatch_uid="access_guard_delete")


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
        if model is None or can(request.user, action, model):
            return True
        self.message = refusal_reason(request.user, action, model)
        return False

    def has_object_permission(self, request, view, obj):
        action = self._action(request, view)
        if can(request.user, action, obj):
            return True
        self.message = refusal_reason(request.user, action, obj)
        return False
