"""Workflows of the portal's own rows: tokens and webhook subscriptions. (Grants, on the
catalog's namespaces, are saved by catalog.services.save_grant.)"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mlportal.models import (
    Event,
    WebhookDelivery,
    WebhookSubscription,
    new_webhook_secret,
)


def save_new_token(token):
    """Give an unsaved Token its key and store it; returns the key, which is not stored: show it
    once."""
    token.clean()
    key = token.set_new_key()
    token.save()
    return key


def revoke_token(token):
    """Revoke `token` from now on; revoking it again keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def save_subscription(*, instance=None, namespace=None, user=None, **fields):
    """Create or update a webhook subscription. `namespace` is a path, created on first use
    like the catalog's ("": every namespace). A new subscription gets its secret here: returned in
    `subscription.new_secret`, shown once. Activating a paused one clears its pause."""
    from catalog.services import ensure_namespace

    subscription = instance or WebhookSubscription()
    if subscription.pk is None and user is not None and user.is_authenticated:
        subscription.created_by = user
    was_active = subscription.pk is None or WebhookSubscription.objects.filter(
        pk=subscription.pk, active=True).exists()
    if namespace is not None:
        if namespace == "":
            subscription.namespace = None
        else:
            try:
                subscription.namespace = ensure_namespace(namespace)
            except ValidationError as exc:
                raise ValidationError({"namespace": exc.messages}) from exc
    for name, value in fields.items():
        setattr(subscription, name, value)
    if subscription.active and not was_active:
        subscription.paused_at, subscription.paused_reason = None, ""
        subscription.consecutive_failures = 0
    if subscription.pk is None:
        subscription.new_secret = subscription.secret = new_webhook_secret()
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def send_test_event(*, subscription):
    """A webhook.test event delivered to `subscription` only (active or not)."""
    from mlportal import events, tasks

    event = Event.objects.create(
        type=events.WEBHOOK_TEST, dispatched_at=timezone.now(),
        namespace=subscription.namespace.path if subscription.namespace_id else "",
        **_actor_fields(), object_type=WebhookSubscription._meta.label_lower,
        object_id=str(subscription.pk),
        document={"subscription": subscription.pk, "url": subscription.url,
                  "message": "A test event from mlportal."},
    )
    delivery = WebhookDelivery.objects.create(subscription=subscription, event=event)
    transaction.on_commit(lambda: tasks.enqueue_delivery(delivery.pk), robust=True)
    return delivery


@transaction.atomic
def redeliver(*, delivery):
    """Send a delivery's event to its subscription again, as a new delivery."""
    from mlportal import tasks

    again = WebhookDelivery.objects.create(subscription=delivery.subscription,
                                           event=delivery.event)
    transaction.on_commit(lambda: tasks.enqueue_delivery(again.pk), robust=True)
    return again


def _actor_fields():
    from mlportal.context import current_context

    context = current_context()
    user = context.acting_user if context is not None else None
    return {"actor": user, "actor_name": user.get_username() if user else "",
            "principal": (context.principal if context else "") or ""}
