import base64
import datetime
import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from mlportal.choices import ChangeAction, Role
from mlportal.fields import EncryptedTextField
from mlportal.secrets import MASK


def hash_token_key(key):
    # Keys are 160 random bits, so a plain digest is as strong as a slow hash here.
    return hashlib.sha256(key.encode()).hexdigest()


class TokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class Token(models.Model):
    """An API key. Only its digest is stored; the key itself is shown once, at creation."""

    audited = True
    user_field = "user"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    description = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=12, editable=False, help_text="Start of the key.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    write_enabled = models.BooleanField(
        default=True, help_text="Off: the token may only read."
    )
    create_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["-create_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    def audit_data(self):
        # Never the digest: it is all an attacker would need to try keys offline.
        return {
            "user": self.user.get_username(),
            "prefix": self.prefix,
            "description": self.description,
            "read_only": self.read_only,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }

    @property
    def read_only(self):
        return not self.write_enabled

    @property
    def is_usable(self):
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def clean(self):
        if self._state.adding and self.expires_at is not None and (
            self.expires_at <= timezone.now()
        ):
            raise ValidationError({"expires_at": "The expiry must be in the future."})

    def set_new_key(self):
        """Give the token a fresh key and return it; the caller shows it once."""
        key = "mlp_" + secrets.token_hex(20)
        self.prefix = key[:10]
        self.digest = hash_token_key(key)
        return key


class Grant(models.Model):
    """A role for a user or a group on a namespace and everything below it."""

    audited = True
    namespace_lookup = "namespace__path"
    # Grants are managed by owners.
    write_role = Role.OWNER

    namespace = models.ForeignKey(
        "catalog.Namespace", on_delete=models.PROTECT, related_name="grants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="portal_grants",
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE,
        related_name="portal_grants",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__path", "user__username", "group__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True, group__isnull=False)
                | models.Q(user__isnull=False, group__isnull=True),
                name="grant_to_a_user_or_a_group",
                violation_error_message="Grant to a user or to a group: give exactly one.",
            ),
            models.UniqueConstraint(
                fields=["namespace", "user"], condition=models.Q(user__isnull=False),
                name="grant_unique_user",
                violation_error_message="This user has a grant on this namespace already; "
                "change its role instead.",
            ),
            models.UniqueConstraint(
                fields=["namespace", "group"], condition=models.Q(group__isnull=False),
                name="grant_unique_group",
                violation_error_message="This group has a grant on this namespace already; "
                "change its role instead.",
            ),
        ]

    def __str__(self):
        return f"{self.grantee}: {self.role} of {self.namespace.path}"

    @property
    def grantee(self):
        if self.user_id:
            return self.user.get_username()
        return f"group {self.group.name}" if self.group_id else "nobody"

    def clean(self):
        if bool(self.user_id) == bool(self.group_id):
            raise ValidationError(
                {"user": "Grant to a user or to a group: give exactly one of them."}
            )

    def audit_data(self):
        return {
            "namespace": self.namespace.path,
            "user": self.user.get_username() if self.user_id else None,
            "group": self.group.name if self.group_id else None,
            "role": self.role,
        }


class AuditTrailIsReadOnly(Exception):
    """The audit trail is written by mlportal.audit only, and never edited or deleted."""


class ObjectChangeQuerySet(models.QuerySet):
    def history_of(self, obj):
        """The recorded changes of `obj` and of the rows whose `audit_parent` it is (a catalog
        model's versions, artifacts, aliases, tags, deployments and their variables)."""
        return self.filter(related_object_type=ContentType.objects.get_for_model(obj),
                           related_object_id=str(obj.pk))

    def update(self, **kwargs):
        raise AuditTrailIsReadOnly("Recorded changes cannot be edited.")

    def delete(self):
        raise AuditTrailIsReadOnly("Recorded changes cannot be deleted.")


class ObjectChange(models.Model):
    """One create, update or delete of an audited row. Written by mlportal.audit only."""

    # The audit trail is read by auditors only (see mlportal.access).
    auditors_only = True

    time = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    user_name = models.CharField(max_length=150, blank=True)
    principal = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=20, blank=True)
    request_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=200)
    # The row whose history this change belongs to (its model's `audit_parent`), as NetBox's
    # related_object: a catalog model for its own changes and those of what hangs from it.
    # Indexed with the id (objectchange_history), not on its own.
    related_object_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False)
    related_object_id = models.CharField(max_length=64, blank=True)
    namespace = models.CharField(max_length=255, blank=True, db_index=True)
    prechange_data = models.JSONField(null=True, blank=True)
    postchange_data = models.JSONField(null=True, blank=True)

    objects = ObjectChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["related_object_type", "related_object_id", "time"],
                         name="objectchange_history"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailIsReadOnly("Recorded changes cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsReadOnly("Recorded changes cannot be deleted.")

    @property
    def object_type(self):
        """"app_label.model", e.g. "catalog.catalogmodel"."""
        return f"{self.content_type.app_label}.{self.content_type.model}"

    def fold(self, *, after, object_repr):
        """Fold a later save of the same object in the same request into this record.

        False when the record is gone (rolled back with a savepoint): write a new one then.
        """
        rows = models.QuerySet.update(
            ObjectChange.objects.filter(pk=self.pk),
            postchange_data=after, object_repr=object_repr,
        )
        if rows:
            self.postchange_data, self.object_repr = after, object_repr
        return bool(rows)


class Event(models.Model):
    """Something that happened to a portal object, written in the transaction of the change
    (an outbox: see mlportal.events). Delivered to the matching webhook subscriptions."""

    # Events carry the documents of every namespace: read like the audit trail.
    auditors_only = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    time = models.DateTimeField(default=timezone.now, db_index=True)
    namespace = models.CharField(max_length=255, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    principal = models.CharField(max_length=255, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    document = models.JSONField(default=dict, blank=True)
    # When the event was turned into deliveries; empty: waiting for a worker.
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self):
        return f"{self.type} {self.object_type} {self.object_id}".strip()

    def payload(self):
        """The body delivered (Standard Webhooks: type, timestamp, data)."""
        return {
            "id": str(self.id),
            "type": self.type,
            "timestamp": self.time.astimezone(datetime.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "namespace": self.namespace,
            "actor": self.actor_name,
            "principal": self.principal,
            "object": {"type": self.object_type, "id": self.object_id},
            "data": self.document,
        }


def new_webhook_secret():
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookSubscription(models.Model):
    """A URL that receives the events of a namespace (and below), signed with its secret.

    Managed (and seen) by the owners of the namespace; a subscription to every namespace
    (no namespace) by superusers only.
    """

    audited = True
    namespace_lookup = "namespace__path"
    write_role = Role.OWNER
    read_role = Role.OWNER

    namespace = models.ForeignKey(
        "catalog.Namespace", null=True, blank=True, on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        help_text="Events of this namespace and below; empty: every namespace (superusers).",
    )
    url = models.URLField(
        max_length=500, help_text="https:// address the events are POSTed to.")
    secret = EncryptedTextField(editable=False)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to send; empty: all of them.")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_reason = models.CharField(max_length=500, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    create_at = models.DateTimeField(auto_now_add=True)
    update_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__path", "url"]
        verbose_name = "webhook subscription"

    def __str__(self):
        return f"{self.url} ({self.namespace.path if self.namespace_id else 'every namespace'})"

    def clean(self):
        from mlportal.events import EVENT_TYPES
        from mlportal.webhooks import url_error

        error = url_error(self.url) if self.url else None
        if error:
            raise ValidationError({"url": error})
        if not isinstance(self.event_types, list) or not all(
                isinstance(name, str) for name in self.event_types):
            raise ValidationError({"event_types": "A list of event type names."})
        unknown = sorted(set(self.event_types) - set(EVENT_TYPES))
        if unknown:
            raise ValidationError({"event_types": (
                f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.")})

    def wants(self, event):
        if self.event_types and event.type not in self.event_types:
            return False
        if self.namespace_id is None:
            return True
        path = self.namespace.path
        return event.namespace == path or event.namespace.startswith(path + "/")

    def audit_data(self):
        return {
            "namespace": self.namespace.path if self.namespace_id else None,
            "url": self.url,
            "secret": MASK if self.secret else "",
            "event_types": self.event_types,
            "description": self.description,
            "active": self.active,
            "paused_reason": self.paused_reason,
        }


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to send) to one subscription, with its attempts' outcome. Never
    holds the secret nor the signature."""

    namespace_lookup = "subscription__namespace__path"
    write_role = Role.OWNER
    read_role = Role.OWNER

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING,
        db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    create_at = models.DateTimeField(auto_now_add=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then (a crashed worker's claim runs out).
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-create_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event.type} to {self.subscription.url}: {self.status}"
