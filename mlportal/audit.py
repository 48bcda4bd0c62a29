"""The audit trail: one mechanism (model signals + a change context) for every write path.

A request (admin, API, pages) opens a context in mlportal.context.ContextMiddleware;
management commands and services open one with `change_context(...)` (mlportal.context).
Every save or delete of a model that declares `audited = True` is recorded in
ObjectChange with the context's acting user, principal and request id. Links between
audited rows (the rows of a many-to-many `through` model, such as a catalog model's data
sources) are recorded as an update of the audited row that owns the many-to-many field,
whichever way they are written.

A model's `audit_parent` (e.g. "version__catalog_model") names the row whose history its
changes belong to; each record keeps it (related_object_type/_id, as NetBox does), so that
a catalog model's history is one indexed filter (ObjectChange.objects.history_of).

Within one context, repeated saves of one object are folded into one record (its first
"before" and its last "after"), as NetBox does; a delete always has a record of its own.
Changes made outside any context are recorded too, one record each, without request id.
"""

import json

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from mlportal import access
from mlportal.choices import ChangeAction
from mlportal.context import change_context, current_context, set_principal

# The context's functions, where the code that records changes has always found them.
__all__ = ["change_context", "connect_signals", "current_context", "set_principal",
           "snapshot"]

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


def parent_of(instance):
    """The row whose history `instance`'s changes belong to, following its model's
    `audit_parent` (e.g. "version__catalog_model"; "" for the row itself); None when its
    model declares none."""
    lookup = getattr(instance, "audit_parent", None)
    if lookup is None:
        return None
    value = instance
    for attribute in filter(None, lookup.split("__")):
        value = getattr(value, attribute, None)
        if value is None:
            return None
    return value


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
    user = context.acting_user if context else None
    parent = parent_of(instance)
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
        related_object_type=ContentType.objects.get_for_model(parent) if parent else None,
        related_object_id=str(parent.pk) if parent else "",
        namespace=access.namespace_path(instance) or "",
        prechange_data=before,
        postchange_data=after,
    )
    if context is not None:
        if action == ChangeAction.DELETE:
            context.changes.pop(key, None)
        else:
            context.changes[key] = change


def _audited(model):
    return getattr(model, "audited", False)


_link_holders = None


def _holder_field(link_model):
    """For the explicit `through` model of an audited row's many-to-many field: the name of
    its foreign key to that row; else None."""
    global _link_holders
    if _link_holders is None:
        _link_holders = {
            m2m.remote_field.through: m2m.m2m_field_name()
            for model in apps.get_models() if _audited(model)
            for m2m in model._meta.many_to_many
            if not m2m.remote_field.through._meta.auto_created
        }
    return _link_holders.get(link_model)


def _holder_of_link(link_model, link):
    name = _holder_field(link_model)
    if name is None:
        return None
    foreign_key = link_model._meta.get_field(name)
    return foreign_key.related_model, getattr(link, foreign_key.attname)


def _before_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    if _audited(sender):
        stored = None if instance._state.adding else _stored(sender, instance.pk)
        instance._audit_before = snapshot(stored) if stored is not None else None
    elif (holder := _holder_of_link(sender, instance)) is not None:
        stored_holder = _stored(*holder)
        instance._audit_holder_before = snapshot(stored_holder) if stored_holder else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if _audited(sender):
        before = None if created else getattr(instance, "_audit_before", None)
        action = ChangeAction.CREATE if created or before is None else ChangeAction.UPDATE
        _record(instance, action, before, snapshot(instance))
        instance._audit_before = None
    elif (holder := _holder_of_link(sender, instance)) is not None:
        _record_holder_update(holder, getattr(instance, "_audit_holder_before", None))


def _record_holder_update(holder, before):
    stored_holder = _stored(*holder)
    if stored_holder is not None and before is not None:
        _record(stored_holder, ChangeAction.UPDATE, before, snapshot(stored_holder))


def _deleting_holder_too(holder_model, origin):
    # Deleting a row deletes its links first; the row's own delete record covers them.
    if isinstance(origin, models.QuerySet):
        return issubclass(origin.model, holder_model)
    return isinstance(origin, holder_model)


def _before_delete(sender, instance, origin=None, **kwargs):
    if _audited(sender):
        instance._audit_before = snapshot(instance)
    elif (holder := _holder_of_link(sender, instance)) is not None:
        if _deleting_holder_too(holder[0], origin):
            instance._audit_holder_before = None
        else:
            stored_holder = _stored(*holder)
            instance._audit_holder_before = snapshot(stored_holder) if stored_holder else None


def _after_delete(sender, instance, **kwargs):
    if _audited(sender):
        _record(instance, ChangeAction.DELETE, instance._audit_before, None)
    elif (holder := _holder_of_link(sender, instance)) is not None:
        _record_holder_update(holder, getattr(instance, "_audit_holder_before", None))


def _m2m_holders(sender, instance, reverse, model, pk_set):
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
            holder: snapshot(stored)
            for holder in _m2m_holders(sender, instance, reverse, model, pk_set)
            if (stored := _stored(*holder)) is not None
        }
        return
    for holder, before in getattr(instance, "_audit_m2m_before", {}).items():
        _record_holder_update(holder, before)
    instance._audit_m2m_before = {}


def connect_signals():
    pre_save.connect(_before_save, dispatch_uid="audit_pre_save")
    post_save.connect(_after_save, dispatch_uid="audit_post_save")
    pre_delete.connect(_before_delete, dispatch_uid="audit_pre_delete")
    post_delete.connect(_after_delete, dispatch_uid="audit_post_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")


def backfill_parents(apps, parent, children):
    """For a data migration (historical models only): give the recorded changes of the
    existing rows of `children` ({"app_label.Model": lookup of the parent's pk, e.g.
    "version__catalog_model_id"; "pk" for the parent's own changes}) their `parent` model
    ("app_label.Model") as related object, where none is set yet."""
    ObjectChange = apps.get_model("mlportal", "ObjectChange")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # The base manager: the trail's own refuses every update.
    trail = ObjectChange._base_manager
    if not trail.exists():
        return
    parent_label, parent_name = parent.lower().split(".")
    parent_type, _ = ContentType.objects.get_or_create(app_label=parent_label, model=parent_name)
    for label, lookup in children.items():
        app_label, name = label.lower().split(".")
        child_type = ContentType.objects.filter(app_label=app_label, model=name).first()
        if child_type is None:
            continue
        unset = trail.filter(content_type=child_type, related_object_id="")
        if lookup == "pk":
            unset.update(related_object_type=parent_type, related_object_id=models.F("object_id"))
            continue
        rows = apps.get_model(app_label, name)._base_manager.values_list("pk", lookup)
        parent_of_row = {str(pk): str(parent_pk) for pk, parent_pk in rows if parent_pk}
        changes = [
            ObjectChange(pk=pk, related_object_type=parent_type,
                         related_object_id=parent_of_row[object_id])
            for pk, object_id in unset.values_list("pk", "object_id")
            if object_id in parent_of_row
        ]
        trail.bulk_update(
            changes, ["related_object_type", "related_object_id"], batch_size=500)
