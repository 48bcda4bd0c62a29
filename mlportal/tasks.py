"""The framework's background tasks (standard Django Tasks interface, django-tasks): event
dispatch, webhook delivery and the outbox sweep. Workers run them: `manage.py db_worker`.

Tasks take ids only (what the queue stores must hold no secret), and each may run twice
(a sweep re-enqueues, a worker dies mid-way): every task claims its row before it acts.
"""

import datetime
import json
import logging
import random

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mlportal import audit, webhooks
from mlportal.models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription

try:
    from django_tasks import task
except ImportError:  # Django 6 has the interface built in
    from django.tasks import task

logger = logging.getLogger(__name__)

# How long a worker holds a delivery it is sending (longer than any attempt can take).
CLAIM_SECONDS = 120


def _ancestors(path):
    parts = path.strip("/").split("/") if path else []
    return ["/" + "/".join(parts[:index]) for index in range(1, len(parts) + 1)]


@task()
def dispatch_event(event_id):
    """Turn an event into one delivery per matching active subscription."""
    with transaction.atomic():
        event = (Event.objects.select_for_update()
                 .filter(pk=event_id, dispatched_at__isnull=True).first())
        if event is None:
            return 0  # dispatched already
        subscriptions = WebhookSubscription.objects.filter(active=True).filter(
            Q(namespace__isnull=True) | Q(namespace__path__in=_ancestors(event.namespace))
        ).select_related("namespace")
        deliveries = [WebhookDelivery(subscription=subscription, event=event)
                      for subscription in subscriptions if subscription.wants(event)]
        deliveries = WebhookDelivery.objects.bulk_create(deliveries)
        event.dispatched_at = timezone.now()
        event.save(update_fields=["dispatched_at"])
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: [enqueue_delivery(pk) for pk in ids], robust=True)
    schedule_sweep()
    return len(ids)


def enqueue_delivery(delivery_id, *, run_after=None):
    try:
        (deliver.using(run_after=run_after) if run_after else deliver).enqueue(delivery_id)
    except Exception:  # the delivery waits; the sweep enqueues it again
        logger.exception("Could not enqueue delivery %s; the sweep will.", delivery_id)


def backoff(attempts):
    """Seconds to wait after the `attempts`-th failed attempt: exponential, with jitter."""
    config = webhooks.options()
    delay = min(config["BACKOFF_BASE"] * 2 ** (attempts - 1), config["BACKOFF_MAX"])
    return delay * (1 + random.uniform(-config["JITTER"], config["JITTER"]))


def _claim(delivery_id, now):
    return WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).update(
        locked_until=now + datetime.timedelta(seconds=CLAIM_SECONDS))


@task()
def deliver(delivery_id):
    """One attempt of a delivery; schedules the next one (with backoff) when it fails."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "not due"  # sent, given up, not yet due or being sent by another worker
    delivery = WebhookDelivery.objects.select_related(
        "subscription__namespace", "event").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        outcome = webhooks.Outcome(ok=False, retry=False, error=(
            "Not sent: the subscription is paused"
            + (f" ({subscription.paused_reason})" if subscription.paused_reason else "")
            + "; activate it and redeliver."))
    else:
        body = json.dumps(delivery.event.payload(), separators=(",", ":"))
        outcome = webhooks.send(subscription.url, secret=subscription.secret,
                                message_id=str(delivery.event_id), body=body)
    _record(delivery, outcome, counts=subscription.active)
    return delivery.status


def _record(delivery, outcome, *, counts=True):
    now = timezone.now()
    config = webhooks.options()
    with transaction.atomic(), audit.change_context(source="worker"):
        delivery.attempts += 1 if counts else 0
        delivery.first_attempt_at = delivery.first_attempt_at or now
        delivery.last_attempt_at = now
        delivery.response_code = outcome.status_code
        delivery.response_body = outcome.body
        delivery.error = outcome.error[:500]
        delivery.locked_until = None
        subscription = delivery.subscription
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.finished_at = now
            if subscription.consecutive_failures:
                WebhookSubscription.objects.filter(pk=subscription.pk).update(
                    consecutive_failures=0)
        else:
            wait = backoff(max(delivery.attempts, 1))
            elapsed = (now - delivery.first_attempt_at).total_seconds()
            if outcome.retry and elapsed + wait <= config["RETRY_FOR"]:
                delivery.next_attempt_at = now + datetime.timedelta(seconds=wait)
                retry_at = delivery.next_attempt_at
                transaction.on_commit(
                    lambda: enqueue_delivery(delivery.pk, run_after=retry_at), robust=True)
            else:
                delivery.status = DeliveryStatus.FAILED
                delivery.finished_at = now
                if counts:
                    _count_failure(subscription, outcome)
        delivery.save()


def _count_failure(subscription, outcome):
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1)
    subscription.refresh_from_db()
    limit = webhooks.options()["PAUSE_AFTER_FAILED_DELIVERIES"]
    if subscription.active and subscription.consecutive_failures >= limit:
        subscription.active = False
        subscription.paused_at = timezone.now()
        subscription.paused_reason = (
            f"Paused after {subscription.consecutive_failures} deliveries in a row failed; "
            f"the last: {outcome.error}")[:500]
        subscription.save(update_fields=["active", "paused_at", "paused_reason", "update_at"])


def sweep():
    """Enqueue again the events and deliveries that have waited too long for their task
    (lost between a commit and its enqueue, or their worker died). Returns the counts."""
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.MLPORTAL_OUTBOX_SWEEP_SECONDS)
    events = list(Event.objects.filter(dispatched_at__isnull=True, time__lte=cutoff)
                  .order_by("time").values_list("pk", flat=True)[:1000])
    for event_id in events:
        dispatch_event.enqueue(str(event_id))
    deliveries = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=cutoff)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
    for delivery_id in deliveries:
        deliver.enqueue(delivery_id)
    return {"events": len(events), "deliveries": len(deliveries)}


@task()
def sweep_outbox():
    """The periodic sweep: sweeps, then schedules its next run."""
    counts = sweep()
    schedule_sweep()
    return counts


def schedule_sweep():
    """Make sure a sweep is queued (one at a time) MLPORTAL_OUTBOX_SWEEP_SECONDS from now.
    Only with the database backend; with others, run `manage.py sweep_outbox` (cron)."""
    try:
        from django_tasks_db.models import DBTaskResult

        backend = sweep_outbox.get_backend()
        if not type(backend).__module__.startswith("django_tasks_db"):
            return None
        if DBTaskResult.objects.filter(task_path=sweep_outbox.module_path,
                                       status="READY").exists():
            return None
        run_after = timezone.now() + datetime.timedelta(
            seconds=settings.MLPORTAL_OUTBOX_SWEEP_SECONDS)
        return sweep_outbox.using(run_after=run_after).enqueue()
    except Exception:
        logger.exception("Could not schedule the outbox sweep.")
        return None
