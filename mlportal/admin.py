import functools

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.db import models
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from mlportal import access
from mlportal.events import EVENT_TYPES
from mlportal.fields import encrypted_field_names, secret_display_name
from mlportal.forms import JSONEditorField
from mlportal.models import (
    Event,
    ObjectChange,
    Token,
    WebhookDelivery,
    WebhookSubscription,
)
from mlportal.secrets import MASK
from mlportal.services import (
    redeliver,
    revoke_token,
    save_new_token,
    save_subscription,
    send_test_event,
)


def _autocomplete_source(request):
    """The model whose form field asks the admin's autocomplete view, or None."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name != "autocomplete":
        return None
    try:
        return apps.get_model(request.GET["app_label"], request.GET["model_name"])
    except (KeyError, LookupError):
        return None


def _within_grants(action):
    """`action` applied to the selected rows the user may change (or delete, as the action's
    permissions say); the others are left as they were, with a warning."""
    needed = [name for name in getattr(action, "allowed_permissions", ())
              if name in ("change", "delete")]
    if not needed:
        return action

    @functools.wraps(action)
    def within_grants(model_admin, request, queryset):
        allowed = queryset
        for name in needed:
            allowed = access.restrict(allowed, request.user, name)
        skipped = queryset.count() - allowed.count()
        if skipped:
            model_admin.message_user(
                request, f"{skipped} of the selected rows are outside your grants: left as "
                "they were.", messages.WARNING)
        return action(model_admin, request, allowed)

    return within_grants


class MaskedSecretsMixin:
    """Wherever the admin would show a field that holds secrets (an encrypted field) as it
    is, it shows its masked display instead (`get_<field>_display()`, see mlportal.fields):
    on a change page the user may not change, in a read-only inline, for a field the admin
    keeps read-only, in a list column. Editable, such fields are the forms' to mask.

    An inline's rows are all editable or all read-only (PortalInline adds rows where it
    changes them), so one decision holds for the whole inline.
    """

    def _all_read_only(self, request, obj):
        raise NotImplementedError

    def _secrets_shown_read_only(self, request, obj):
        secrets = encrypted_field_names(self.model)
        if not secrets:
            return []
        if self._all_read_only(request, obj):
            return secrets
        declared = super().get_readonly_fields(request, obj)
        return [name for name in secrets if name in declared]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [secret_display_name(name)
                         for name in self._secrets_shown_read_only(request, obj)]

    def get_fieldsets(self, request, obj=None):
        masked = {name: secret_display_name(name)
                  for name in self._secrets_shown_read_only(request, obj)}
        fieldsets = super().get_fieldsets(request, obj)
        if not masked:
            return fieldsets
        seen = set()

        def shown(fields):
            result = []
            for field in fields:
                if isinstance(field, (list, tuple)):
                    result.append(shown(field))
                    continue
                field = masked.get(field, field)
                if field not in seen:
                    seen.add(field)
                    result.append(field)
            return result

        return [(title, {**options, "fields": shown(options["fields"])})
                for title, options in fieldsets]

    def get_list_display(self, request):
        secrets = set(encrypted_field_names(self.model))
        return [secret_display_name(name) if name in secrets else name
                for name in super().get_list_display(request)]


class PortalModelAdmin(MaskedSecretsMixin, admin.ModelAdmin):
    """Base of every admin page: rows and buttons follow the portal's one access rule.

    Every signed-in account sees every page read-only; it may change the rows its grants
    cover, and pick (in a form's namespace, catalog model, ... field) only the rows it may
    write into. JSON (schemas, connections) is edited in mlportal.forms.JSONEditor.
    """

    formfield_overrides = {models.JSONField: {"form_class": JSONEditorField}}

    def get_queryset(self, request):
        return access.restrict(super().get_queryset(request), request.user, "view")

    def _all_read_only(self, request, obj):
        # As Django's change view decides: a row the user may not change is shown read-only.
        if obj is None:
            return not self.has_add_permission(request)
        return not self.has_change_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return access.can(request.user, "view", obj or self.model)

    def has_add_permission(self, request, *args):
        return access.can(request.user, "add", self.model)

    def has_change_permission(self, request, obj=None):
        return access.can(request.user, "change", obj or self.model)

    def has_delete_permission(self, request, obj=None):
        return access.can(request.user, "delete", obj or self.model)

    def has_module_permission(self, request):
        return access.can(request.user, "view", self.model)

    def get_actions(self, request):
        return {
            name: (_within_grants(func), name, description)
            for name, (func, name, description) in super().get_actions(request).items()
        }

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if "queryset" not in kwargs and getattr(related, "namespace_lookup", None):
            kwargs["queryset"] = access.restrict(
                related._default_manager.all(), request.user, "change",
                role=access.required_role(self.model),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        source = _autocomplete_source(request)
        if source is not None and getattr(self.model, "namespace_lookup", None):
            # Offer only what the asking form may point at, as formfield_for_foreignkey does.
            queryset = access.restrict(
                queryset, request.user, "change", role=access.required_role(source)
            )
        return queryset, may_have_duplicates


class PortalInline(MaskedSecretsMixin, admin.TabularInline):
    """An inline's rows are part of their parent: changing them is changing the parent."""

    def _all_read_only(self, request, obj):
        # As Django's change view decides: read-only when the inline may not change its rows
        # or the parent may not be changed.
        parent = self.admin_site._registry.get(self.parent_model)
        may_edit_parent = parent is None or (
            parent.has_change_permission(request, obj) if obj is not None
            else parent.has_add_permission(request))
        return not (may_edit_parent and self.has_change_permission(request, obj))

    def has_view_permission(self, request, obj=None):
        return access.can(request.user, "view", obj or self.parent_model)

    def has_add_permission(self, request, obj=None):
        return access.can(request.user, "change", obj or self.parent_model)

    def has_change_permission(self, request, obj=None):
        return access.can(request.user, "change", obj or self.parent_model)

    def has_delete_permission(self, request, obj=None):
        return access.can(request.user, "change", obj or self.parent_model)


class ReadOnlyInline(PortalInline):
    """Rows shown beside their parent and never edited there (history, registered files)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin:
    """A changelist to find rows in, for rows nobody adds, changes or removes in the admin."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def shown_once(model_admin, request, template, title, **context):
    """The page showing a secret the one time it exists (a template extending
    admin/mlportal/shown_once.html): not in a message (a cookie), not stored; the admin marks
    its pages never_cache, so the browser does not keep it either."""
    return TemplateResponse(request, template, {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        **context,
    })


@admin.register(Token)
class TokenAdmin(PortalModelAdmin):
    list_display = ["prefix", "user", "description", "read_only", "create_at", "expires_at",
                    "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    list_filter = ["write_enabled"]
    search_fields = ["prefix", "user__username", "description"]
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the token stays, so that its prefix still says whose it was.
        return False

    @admin.display(boolean=True, description="read-only")
    def read_only(self, token):
        return token.read_only

    def get_fields(self, request, obj=None):
        if obj is not None:
            return ["user", "prefix", "description", "write_enabled", "expires_at", "create_at",
                    "last_used_at", "revoked_at"]
        # Others make tokens for themselves only.
        mine = ["description", "write_enabled", "expires_at"]
        return ["user", *mine] if request.user.is_superuser else mine

    def get_readonly_fields(self, request, obj=None):
        # Scope and expiry are chosen once: for another, make a new token.
        if obj is None:
            return []
        return [field for field in self.get_fields(request, obj) if field != "description"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if not request.user.is_superuser:
            obj.user = request.user
        obj.key = save_new_token(obj)

    def response_add(self, request, obj, post_url_continue=None):
        return shown_once(self, request, "admin/mlportal/token/created.html",
                          "Token created", token=obj, key=obj.key)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            revoke_token(token)


@admin.register(ObjectChange)
class ObjectChangeAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = ["time", "user_name", "principal", "action", "content_type", "object_repr",
                    "namespace", "source"]
    list_select_related = ["content_type"]
    list_filter = ["action", "source", "content_type"]
    search_fields = ["object_repr", "user_name", "principal", "namespace", "request_id"]
    date_hierarchy = "time"


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https",
                         help_text="https:// address the events are POSTed to.")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event type.")

    class Meta:
        model = WebhookSubscription
        fields = ["namespace", "url", "event_types", "description", "active"]

    def clean_namespace(self):
        namespace = self.cleaned_data.get("namespace")
        user = getattr(self, "user", None)
        if namespace is None and user is not None and not user.is_superuser:
            raise forms.ValidationError("Only superusers subscribe to every namespace: "
                                        "choose one.")
        return namespace


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(PortalModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "namespace", "active", "paused_reason", "consecutive_failures",
                    "update_at"]
    list_select_related = ["namespace"]
    list_filter = ["active"]
    search_fields = ["url", "description", "namespace__path"]
    autocomplete_fields = ["namespace"]
    readonly_fields = ["secret_display", "paused_at", "paused_reason", "consecutive_failures",
                       "deliveries_link", "created_by", "create_at", "update_at"]
    actions = ["send_test_event", "activate"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def get_fields(self, request, obj=None):
        fields = ["namespace", "url", "event_types", "description", "active"]
        if obj is None:
            return fields
        return [*fields, *self.readonly_fields]

    @admin.display(description="secret")
    def secret_display(self, subscription):
        return MASK

    @admin.display(description="deliveries")
    def deliveries_link(self, subscription):
        url = reverse("admin:mlportal_webhookdelivery_changelist")
        return format_html('<a href="{}?subscription__id__exact={}">The delivery log</a>',
                           url, subscription.pk)

    def save_model(self, request, obj, form, change):
        save_subscription(instance=obj, user=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        return shown_once(self, request, "admin/mlportal/webhooksubscription/created.html",
                          "Webhook subscription created", subscription=obj,
                          secret=obj.new_secret)

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        for subscription in queryset:
            delivery = send_test_event(subscription=subscription)
            self.message_user(request, f"{subscription}: test event queued (delivery "
                                       f"{delivery.pk}).")

    @admin.action(description="Activate (resume paused subscriptions)", permissions=["change"])
    def activate(self, request, queryset):
        for subscription in queryset:
            save_subscription(instance=subscription, active=True)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = ["create_at", "subscription", "event_type", "status", "attempts",
                    "response_code", "last_attempt_at", "next_attempt_at", "error"]
    list_select_related = ["subscription__namespace", "event"]
    list_filter = ["status", "event__type"]
    search_fields = ["subscription__url", "event__type", "error"]
    fields = ["subscription", "event", "status", "attempts", "response_code", "response_body",
              "error", "create_at", "first_attempt_at", "last_attempt_at", "next_attempt_at",
              "finished_at"]
    readonly_fields = fields
    actions = ["redeliver"]

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.action(description="Redeliver", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        allowed = access.restrict(queryset, request.user, "change")
        for delivery in allowed.select_related("subscription", "event"):
            redeliver(delivery=delivery)
        self.message_user(request, f"{allowed.count()} deliveries queued again.")

    def has_redeliver_permission(self, request):
        return access.can(request.user, "change", self.model)


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = ["time", "type", "namespace", "actor_name", "principal", "object_type",
                    "object_id", "dispatched_at"]
    list_filter = ["type"]
    search_fields = ["type", "namespace", "object_id", "actor_name", "principal"]
    date_hierarchy = "time"
    fields = ["id", "type", "time", "namespace", "actor_name", "principal", "object_type",
              "object_id", "document", "dispatched_at"]
    readonly_fields = fields


# The task queue's own page (django-tasks-db): superusers only, read-only. Task arguments
# are ids, never secrets (mlportal.tasks, catalog.tasks).
try:
    from django_tasks_db.models import DBTaskResult
except ImportError:  # pragma: no cover - the database backend is not installed
    DBTaskResult = None

if DBTaskResult is not None and admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)

    @admin.register(DBTaskResult)
    class TaskResultAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
        list_display = ["id", "task_path", "status", "queue_name", "enqueued_at", "run_after",
                        "started_at", "finished_at"]
        list_filter = ["status", "queue_name", "task_path"]
        search_fields = ["id", "task_path"]
        fields = ["id", "task_path", "status", "args_kwargs", "queue_name", "priority",
                  "enqueued_at", "run_after", "started_at", "finished_at", "worker_ids",
                  "exception_class_path", "traceback"]
        readonly_fields = fields

        def has_view_permission(self, request, obj=None):
            return request.user.is_active and request.user.is_superuser

        def has_module_permission(self, request):
            return self.has_view_permission(request)

        def get_queryset(self, request):
            queryset = admin.ModelAdmin.get_queryset(self, request)
            return queryset if self.has_view_permission(request) else queryset.none()
