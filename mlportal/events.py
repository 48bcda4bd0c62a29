"""Events: what happened to a portal object, for automation to react to (webhooks).

An outbox: `emit` writes an Event row in the transaction of the change that causes it, so
a rolled-back change leaves no event and a committed change always has its event. When the
transaction commits, a task (mlportal.tasks.dispatch_event) turns the event into deliveries
to the matching webhook subscriptions; the outbox sweep (mlportal.tasks.sweep_outbox)
re-enqueues whatever a crash between the commit and the enqueue left behind.

The framework does not import the apps: each app registers how its objects are shown
(`register_document`, the API's serializer, with secrets masked as everywhere), or passes
the document to `emit`.
"""

import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from mlportal import access
from mlportal.context import current_context
from mlportal.secrets import mask

logger = logging.getLogger(__name__)

CATALOG_MODEL_CREATED = "catalog_model.created"
CATALOG_MODEL_CHANGED = "catalog_model.changed"
VERSION_REGISTERED = "version.registered"
VERSION_CHANGED = "version.changed"
VERSION_DEPRECATED = "version.deprecated"
ALIAS_SET = "alias.set"
ALIAS_MOVED = "alias.moved"
ALIAS_REMOVED = "alias.removed"
TAG_CHANGED = "tag.changed"
DEPLOYMENT_RECORDED = "deployment.recorded"
DEPLOYMENT_ACTIVATED = "deployment.activated"
DEPLOYMENT_RETIRED = "deployment.retired"
DEPLOYMENT_FAILED = "deployment.failed"
DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
DEPLOYMENT_PROMOTED = "deployment.promoted"
CATALOG_SYNC_FINISHED = "catalog_sync.finished"
CATALOG_SYNC_FAILED = "catalog_sync.failed"
WEBHOOK_TEST = "webhook.test"

EVENT_TYPES = [
    CATALOG_MODEL_CREATED, CATALOG_MODEL_CHANGED, VERSION_REGISTERED, VERSION_CHANGED,
    VERSION_DEPRECATED, ALIAS_SET, ALIAS_MOVED, ALIAS_REMOVED, TAG_CHANGED,
    DEPLOYMENT_RECORDED, DEPLOYMENT_ACTIVATED, DEPLOYMENT_RETIRED, DEPLOYMENT_FAILED,
    DEPLOYMENT_ROLLED_BACK, DEPLOYMENT_PROMOTED, CATALOG_SYNC_FINISHED, CATALOG_SYNC_FAILED,
    WEBHOOK_TEST,
]

# model class -> function(obj) -> the object's API document
_documents = {}


def register_document(model, serializer_class, queryset=None):
    """Show objects of `model` in events as the API does: `serializer_class` (the app's API
    serializer) on a fresh copy read through `queryset` (default: all rows), so that the
    document says what was committed, not what an instance at hand had cached."""
    _documents[model] = (serializer_class, queryset)


def document_of(obj, *, fresh=True):
    """The registered document of `obj`: of a copy read afresh, or (`fresh=False`, for an
    object its creator has just written whole, with its relations at hand) of `obj`."""
    registered = _documents.get(obj._meta.concrete_model)
    if registered is None or obj.pk is None:
        return {}
    serializer_class, queryset = registered
    if fresh:
        queryset = (queryset.all() if queryset is not None
                    else obj._meta.model._base_manager.all())
        obj = queryset.filter(pk=obj.pk).first() or obj
    return serializer_class(obj, context={}).data


def _json(data):
    # Masked once more: an event never carries a secret-looking value in clear.
    return mask(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def emit(event_type, obj=None, *, document=None, namespace=None, fresh=True):
    """Record that `event_type` happened to `obj`, in the current transaction.

    `document` defaults to the registered document of `obj` (`fresh`: see document_of);
    `namespace` to the namespace `obj` lives in. Actor and principal come from the audit
    context (mlportal.audit).
    """
    from mlportal.models import Event

    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    context = current_context()
    user = context.acting_user if context is not None else None
    event = Event.objects.create(
        type=event_type,
        namespace=(namespace if namespace is not None
                   else (access.namespace_path(obj) if obj is not None else None)) or "",
        actor=user,
        actor_name=user.get_username() if user else "",
        principal=(context.principal if context else "") or "",
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        document=_json(document if document is not None else
                       (document_of(obj, fresh=fresh) if obj is not None else {})),
    )
    if queue_in_database():
        # The task's row commits (or rolls back) with the event: no second commit, and no
        # moment where the event is committed but its task not yet enqueued.
        enqueue_dispatch(event.pk, in_transaction=True)
    else:
        transaction.on_commit(lambda: enqueue_dispatch(event.pk), robust=True)
    return event


def queue_in_database():
    """Is the task queue a table of the portal's own database (django-tasks-db)?"""
    from django_tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    from mlportal.tasks import dispatch_event

    return isinstance(task_backends[dispatch_event.backend], DatabaseBackend)


def enqueue_dispatch(event_id, *, in_transaction=False):
    """Hand the event to a worker; when this fails after the commit, the outbox sweep picks
    it up later (within the event's transaction, a failure fails the change: same database,
    same fate)."""
    from mlportal.tasks import dispatch_event

    if in_transaction:
        dispatch_event.enqueue(str(event_id))
        return
    try:
        dispatch_event.enqueue(str(event_id))
    except Exception:  # the event waits in the outbox: nothing is lost
        logger.exception("Could not enqueue the dispatch of event %s; the sweep will.", event_id)
