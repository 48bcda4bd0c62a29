"""The audit trail: one mechanism (model signals + a change context) for every write path.

A request (admin, API, pages) opens a context in AuditContextMiddleware; management
commands and services open one with `change_context(...)`. Every save or delete of a
model that declares `audited = True` is recorded in ObjectChange with the context's
user, principal and request id. Within one context, repeated changes of one object
are folded into one record, as NetBox does.
"""

import contextvars
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from mlportal import access
from mlportal.choices import ChangeAction

MASK = "********"


@dataclass
class ChangeContext:
    user: object = None
    principal: str = ""
    source: str = ""
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # (content type id, object id) -> ObjectChange already written in this context
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
        context.principal = principal


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = "admin" if request.path.startswith("/admin/") else (
            "api" if request.path.startswith("/api/") else "web"
        )
        context = ChangeContext(source=source)
        context.request = request
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
    if user is None and getattr(context, "request", None) is not None:
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


def _record(instance, action, before, after):
    from mlportal.models import ObjectChange

    if action == ChangeAction.UPDATE and before == after:
        return
    context = current_context()
    content_type = ContentType.objects.get_for_model(instance.__class__)
    key = (content_type.pk, str(instance.pk))
    if context is not None and key in context.changes:
        change = context.changes[key]
        if change.action == ChangeAction.CREATE and action == ChangeAction.DELETE:
            change.delete()
            del context.changes[key]
            return
        if action == ChangeAction.DELETE:
            change.action = action
        change.postchange_data = after
        change.object_repr = str(instance)[:200]
        if ObjectChange.objects.filter(pk=change.pk).update(
            action=change.action, postchange_data=after, object_repr=change.object_repr
        ):
            return
        # The record was rolled back with a savepoint (a write that failed): start afresh.
        del context.changes[key]
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
        object_repr=str(instance)[:200],
        namespace=access.namespace_path(instance) or "",
        prechange_data=before,
        postchange_data=after,
    )
    if context is not None:
        context.changes[key] = change


def _audited(sender):
    return getattr(sender, "audited", False)


def _before_save(sender, instance, raw=False, **kwargs):
    if not _audited(sender) or raw or instance._state.adding:
        return
    stored = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(stored) if stored is not None else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    if not _audited(sender) or raw:
        return
    before = None if created else getattr(instance, "_audit_before", None)
    action = ChangeAction.CREATE if created or before is None else ChangeAction.UPDATE
    _record(instance, action, before, snapshot(instance))
    instance._audit_before = None


def _before_delete(sender, instance, **kwargs):
    if _audited(sender):
        instance._audit_before = snapshot(instance)


def _after_delete(sender, instance, **kwargs):
    if _audited(sender):
        _record(instance, ChangeAction.DELETE, instance._audit_before, None)


def _m2m_changed(sender, instance, action, reverse, **kwargs):
    if reverse or not _audited(instance.__class__):
        return
    if action.startswith("pre_"):
        instance._audit_before = snapshot(instance)
    else:
        _record(instance, ChangeAction.UPDATE, getattr(instance, "_audit_before", None),
                snapshot(instance))


def connect_signals():
    pre_save.connect(_before_save, dispatch_uid="audit_pre_save")
    post_save.connect(_after_save, dispatch_uid="audit_post_save")
    pre_delete.connect(_before_delete, dispatch_uid="audit_pre_delete")
    post_delete.connect(_after_delete, dispatch_uid="audit_post_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")
