"""The audit trail: one mechanism (model signals + a change context) for every write path.

A request (admin, API, pages) opens a context in AuditContextMiddleware; management
commands and services open one with `change_context(...)`. Every save or delete of a
model that declares `audited = True` is recorded in ObjectChange with the context's
user, principal and request id. Links between audited rows (the rows of a many-to-many
`through` model, such as a catalog model's data sources) are recorded as an update of
the audited row that owns the many-to-many field, whichever way they are written.

Within one context, repeated saves of one object are folded into one record (its first
"before" and its last "after"), as NetBox does; a delete always has a record of its own.
Changes made outside any context are recorded too, one record each, without request id.
"""

import contextvars
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.http import JsonResponse

from mlportal import access
from mlportal.choices import ChangeAction

PRINCIPAL_HEADER = "X-Principal"
PRINCIPAL_MAX_LENGTH = 255


@dataclass
class ChangeContext:
    user: object = None
    principal: str = ""
    source: str = ""
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    request: object = None
    # (content type id, object id) -> the ObjectChange written for it in this context
    changes: dict = field(default_factory=dict)


_current = contextvars.ContextVar("mlportal_change_context", default=None)


def current_context():
    return _current.get()


@contextmanager
def change_context(*, user=None, principal="", source="command"):
    """Attribute the changes made inside to `user` (and the client's `principal`)."""
    token = _current.set(ChangeContext(user=user, principal=principal or "", source=source))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_principal(principal):
    """Record the principal a client names (such as an IAM ARN) for this context's changes."""
    context = current_context()
    if context is not None and principal:
        context.principal = str(principal)[:PRINCIPAL_MAX_LENGTH]


def principal_error(value):
    """Why `value` cannot be a principal, or None when it can."""
    if len(value) > PRINCIPAL_MAX_LENGTH:
        return f"At most {PRINCIPAL_MAX_LENGTH} characters."
    if not value.isprintable():
        return "Printable characters only."
    return None


class AuditContextMiddleware:
    """Opens a change context per request; API clients may name their principal in the
    X-Principal header (e.g. the IAM ARN of the pipeline calling)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = "admin" if request.path.startswith("/admin/") else (
            "api" if request.path.startswith("/api/") else "web"
        )
        principal = request.headers.get(PRINCIPAL_HEADER, "").strip() if source == "api" else ""
        error = principal_error(principal)
        if error:
            return JsonResponse({PRINCIPAL_HEADER: [error]}, status=400)
        context = ChangeContext(source=source, principal=principal, request=request)
        # The request's id (mlportal.ops.RequestIdMiddleware) is the audit trail's.
        context.request_id = getattr(request, "id", None) or context.request_id
        request.id = context.request_id
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = str(context.request_id)
        return response


def _user_of(context):
    user = context.user
    if user is None and context.request is not None:
        # DRF authenticates inside the view and writes the user back onto the request.
        user = getattr(context.request, "user", None)
    return user if user is not None and user.is_authenticated else None


def snapshot(instance):
    """The JSON document of `instance` kept in the audit trail (secrets masked by the model)."""
    if hasattr(instance, "audit_data"):
        data = instance.audit_data()
    else:
        data = {
            f.attname: getattr(instance, f.attname)
            for f in instance._meta.concrete_fields
            if not getattr(f, "auto_now", False)
        }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _stored(model, pk):
    """A fresh copy from the database: instances at hand may hold stale prefetched links."""
    return model._base_manager.filter(pk=pk).first()


def _record(instance, action, before, after):
    from mlportal.models import ObjectChange

    if action == ChangeAction.UPDATE and before == after:
        return
    context = current_context()
    content_type = ContentType.objects.get_for_model(instance.__class__)
    key = (content_type.pk, str(instance.pk))
    object_repr = str(instance)[:200]
    if context is not None and action != ChangeAction.DELETE:
        earlier = context.changes.get(key)
        if earlier is not None and earlier.fold(after=after, object_repr=object_repr):
            return
    user = _user_of(context) if context else None
    change = ObjectChange.objects.create(
        user=user,
        user_name=user.get_username() if user else "",
        principal=context.principal if context else "",
        source=context.source if context else "",
        request_id=context.request_id if context else None,
        action=action,
        content_type=content_type,
        object_id=str(instance.pk),
        object_repr=object_repr,
        namespace=access.namespace_path(instance) or "",
        prechange_data=before,
        postchange_data=after,
    )
    if context is not None:
        if action == ChangeAction.DELETE:
            context.changes.pop(key, None)
        else:
            context.changes[key] = change


def bulk_create(*groups):
    """Insert new rows, one INSERT per group (a list of rows of one model, in the order given,
    so that a group may refer to the rows of an earlier one), each row checked by the access
    rule's guard and recorded in the audit trail as its save() would be, with one INSERT for
    all the records. For workflows that add several rows at once, such as a new version with
    its artifacts and tags; the rows' save() is not called, so no other signal sees them."""
    recorded = []
    for rows in groups:
        if not rows:
            continue
        model = type(rows[0])
        for row in rows:
            # Rows of an earlier group now have their ids.
            row._prepare_related_fields_for_save(operation_name="bulk_create")
            access.guard_save(row)
        model.objects.bulk_create(rows)
        if _audited(model):
            recorded += rows
    _record_created(recorded)
    return groups


def _record_created(rows):
    from mlportal.models import ObjectChange

    if not rows:
        return
    context = current_context()
    user = _user_of(context) if context else None
    changes = ObjectChange.objects.bulk_create([
        ObjectChange(
            user=user,
            user_name=user.get_username() if user else "",
            principal=context.principal if context else "",
            source=context.source if context else "",
            request_id=context.request_id if context else None,
            action=ChangeAction.CREATE,
            content_type=ContentType.objects.get_for_model(type(row)),
            object_id=str(row.pk),
            object_repr=str(row)[:200],
            namespace=access.namespace_path(row) or "",
            prechange_data=None,
            postchange_data=snapshot(row),
        )
        for row in rows
    ])
    if context is not None:
        for change in changes:
            context.changes[(change.content_type_id, change.object_id)] = change


def _audited(model):
    return getattr(model, "audited", False)


_link_owners = None


def _owner_field(link_model):
    """For the explicit `through` model of an audited row's many-to-many field: the name of
    its foreign key to that row; else None."""
    global _link_owners
    if _link_owners is None:
        _link_owners = {
            m2m.remote_field.through: m2m.m2m_field_name()
            for model in apps.get_models() if _audited(model)
            for m2m in model._meta.many_to_many
            if not m2m.remote_field.through._meta.auto_created
        }
    return _link_owners.get(link_model)


def _owner_of_link(link_model, link):
    name = _owner_field(link_model)
    if name is None:
        return None
    owner_field = link_model._meta.get_field(name)
    return owner_field.related_model, getattr(link, owner_field.attname)


def _before_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    if _audited(sender):
        stored = None if instance._state.adding else _stored(sender, instance.pk)
        instance._audit_before = snapshot(stored) if stored is not None else None
    elif (owner := _owner_of_link(sender, instance)) is not None:
        stored_owner = _stored(*owner)
        instance._audit_owner_before = snapshot(stored_owner) if stored_owner else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if _audited(sender):
        before = None if created else getattr(instance, "_audit_before", None)
        action = ChangeAction.CREATE if created or before is None else ChangeAction.UPDATE
        _record(instance, action, before, snapshot(instance))
        instance._audit_before = None
    elif (owner := _owner_of_link(sender, instance)) is not None:
        _record_owner_update(owner, getattr(instance, "_audit_owner_before", None))


def _record_owner_update(owner, before):
    stored_owner = _stored(*owner)
    if stored_owner is not None and before is not None:
        _record(stored_owner, ChangeAction.UPDATE, before, snapshot(stored_owner))


def _deleting_owner_too(owner_model, origin):
    # Deleting a row deletes its links first; the row's own delete record covers them.
    if isinstance(origin, models.QuerySet):
        return issubclass(origin.model, owner_model)
    return isinstance(origin, owner_model)


def _before_delete(sender, instance, origin=None, **kwargs):
    if _audited(sender):
        instance._audit_before = snapshot(instance)
    elif (owner := _owner_of_link(sender, instance)) is not None:
        if _deleting_owner_too(owner[0], origin):
            instance._audit_owner_before = None
        else:
            stored_owner = _stored(*owner)
            instance._audit_owner_before = snapshot(stored_owner) if stored_owner else None


def _after_delete(sender, instance, **kwargs):
    if _audited(sender):
        _record(instance, ChangeAction.DELETE, instance._audit_before, None)
    elif (owner := _owner_of_link(sender, instance)) is not None:
        _record_owner_update(owner, getattr(instance, "_audit_owner_before", None))


def _m2m_owners(sender, instance, reverse, model, pk_set):
    """The audited rows whose many-to-many field this change alters."""
    if not reverse:
        return [(instance.__class__, instance.pk)] if _audited(instance.__class__) else []
    if not _audited(model):
        return []
    if pk_set is None:  # clear(): every row linked to `instance`
        m2m = next(f for f in model._meta.many_to_many if f.remote_field.through is sender)
        pk_set = model._base_manager.filter(**{m2m.name: instance}).values_list("pk", flat=True)
    return [(model, pk) for pk in pk_set]


def _m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if not sender._meta.auto_created and action not in ("pre_add", "post_add"):
        # Removing rows of an explicit `through` model deletes them one by one: recorded
        # by _before_delete/_after_delete. Adding creates them in bulk, without signals.
        return
    if action.startswith("pre_"):
        instance._audit_m2m_before = {
            owner: snapshot(stored)
            for owner in _m2m_owners(sender, instance, reverse, model, pk_set)
            if (stored := _stored(*owner)) is not None
        }
        return
    for owner, before in getattr(instance, "_audit_m2m_before", {}).items():
        _record_owner_update(owner, before)
    instance._audit_m2m_before = {}


def connect_signals():
    pre_save.connect(_before_save, dispatch_uid="audit_pre_save")
    post_save.connect(_after_save, dispatch_uid="audit_post_save")
    pre_delete.connect(_before_delete, dispatch_uid="audit_pre_delete")
    post_delete.connect(_after_delete, dispatch_uid="audit_post_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")
