from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from catalog.models import (
    CatalogModel,
    CatalogSource,
    CatalogSync,
    DataSource,
    ModelDataSource,
    Namespace,
)
from catalog.services import ensure_namespace, request_sync, save_grant
from mlportal import access, events
from mlportal.admin import PortalInline, PortalModelAdmin, ReadOnlyAdminMixin, ReadOnlyInline
from mlportal.models import Grant
from mlportal.secrets import mask, merge_masked


class NamespaceForm(forms.ModelForm):
    class Meta:
        model = Namespace
        fields = ["path", "description"]

    user = None  # set by NamespaceAdmin.get_form on the form class made for the request

    def clean_path(self):
        path = self.cleaned_data["path"]
        if self.instance.pk is None and not access.can_write_namespace(self.user, path):
            granted = access.granted_paths(self.user)
            raise forms.ValidationError(
                f"You may create namespaces only below your grants ({', '.join(granted)})."
                if granted else "Only superusers create namespaces outside every grant."
            )
        return path


@admin.register(Namespace)
class NamespaceAdmin(PortalModelAdmin):
    form = NamespaceForm
    list_display = ["path", "parent", "description", "model_count", "update_at"]
    list_select_related = ["parent"]
    search_fields = ["path", "description"]
    readonly_fields = ["parent", "create_at", "update_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_count=Count("models")).order_by("path")

    @admin.display(description="models", ordering="model_count")
    def model_count(self, namespace):
        return namespace.model_count

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a new class on every call
        form.user = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        # A path addresses everything in the namespace: it is set once.
        return [*self.readonly_fields, "path"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change and obj.parent_path:
            obj.parent = ensure_namespace(obj.parent_path)
        super().save_model(request, obj, form, change)


class DataSourceForm(forms.ModelForm):
    """Shows the connection with its credentials masked; a masked value submitted back
    keeps the stored one."""

    class Meta:
        model = DataSource
        fields = ["name", "type", "description", "owner", "connection"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["connection"] = mask(self.instance.connection)

    def clean_connection(self):
        connection = self.cleaned_data["connection"]
        if self.instance.pk:
            stored = DataSource.objects.get(pk=self.instance.pk).connection
            connection = merge_masked(connection, stored)
        return connection


class UsedByInline(ReadOnlyInline):
    model = ModelDataSource
    fk_name = "data_source"
    fields = ["catalog_model"]
    readonly_fields = ["catalog_model"]
    verbose_name = "model fed by this data source"
    verbose_name_plural = "models fed by this data source"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("catalog_model__namespace")


@admin.register(DataSource)
class DataSourceAdmin(PortalModelAdmin):
    form = DataSourceForm
    list_display = ["name", "type", "owner", "model_count", "update_at"]
    list_filter = ["type"]
    search_fields = ["name", "description", "owner"]
    inlines = [UsedByInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_count=Count("models"))

    @admin.display(description="models", ordering="model_count")
    def model_count(self, source):
        return source.model_count


class DataSourceInline(PortalInline):
    model = ModelDataSource
    fk_name = "catalog_model"
    extra = 1
    autocomplete_fields = ["data_source"]
    verbose_name = "data source"
    verbose_name_plural = "data sources"

    # Read-only when the model's card in Git lists its data sources.
    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not _managed(obj, "data_sources")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _managed(obj, "data_sources")

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _managed(obj, "data_sources")


def _managed(model, field):
    return isinstance(model, CatalogModel) and model.managed_in_git(field)


# Document fields (as a card names them) -> the admin form fields they cover.
GIT_MANAGED_FORM_FIELDS = {
    "namespace": "namespace",
    "model_name": "model_name",
    "description": "description",
    "owner": "owner",
    "url": "url",
    "inference.input.description": "inference_input_description",
    "inference.input.schema": "inference_input_schema",
    "inference.output.description": "inference_output_description",
    "inference.output.schema": "inference_output_schema",
}


class GitStatusFilter(admin.SimpleListFilter):
    title = "card in Git"
    parameter_name = "git"

    def lookups(self, request, model_admin):
        return [("in", "in Git"), ("gone", "no longer in Git"), ("never", "not from Git")]

    def queryset(self, request, queryset):
        if self.value() == "in":
            return queryset.filter(in_git=True)
        if self.value() == "gone":
            return queryset.filter(in_git=False).exclude(git_repository="")
        if self.value() == "never":
            return queryset.filter(git_repository="")
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        owners = (
            model_admin.get_queryset(request).exclude(owner="").order_by("owner")
            .values_list("owner", flat=True).distinct()
        )
        return [(owner, owner) for owner in owners]

    def queryset(self, request, queryset):
        return queryset.filter(owner=self.value()) if self.value() else queryset


@admin.register(CatalogModel)
class CatalogModelAdmin(PortalModelAdmin):
    list_display = ["model_name", "namespace", "owner", "data_source_names", "git_status",
                    "update_at"]
    list_select_related = ["namespace"]
    list_filter = ["namespace", OwnerFilter, "data_sources__type", GitStatusFilter]
    search_fields = ["namespace__path", "model_name", "owner", "data_sources__name"]
    autocomplete_fields = ["namespace"]
    inlines = [DataSourceInline]
    readonly_fields = ["create_at", "update_at", "card_in_git", "model_card_display",
                       "versions_table", "deployments_table"]
    fieldsets = [
        (None, {"fields": ["namespace", "model_name", "description", "owner", "url"]}),
        ("Inference input", {"fields": ["inference_input_description", "inference_input_schema"]}),
        ("Inference output",
         {"fields": ["inference_output_description", "inference_output_schema"]}),
        ("History", {"fields": ["create_at", "update_at"]}),
    ]

    def save_related(self, request, form, formsets, change):
        # The admin saves the row and its links itself; the event follows, in its transaction.
        super().save_related(request, form, formsets, change)
        events.emit(events.CATALOG_MODEL_CHANGED if change else events.CATALOG_MODEL_CREATED, form.instance)  # noqa: E501

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("data_sources")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        fieldsets = [*self.fieldsets[:-1],
                     ("Versions and deployments", {"fields": ["versions_table",
                                                              "deployments_table"]}),
                     self.fieldsets[-1]]
        if not obj.git_repository:
            return fieldsets
        return [("Model card in Git", {"fields": ["card_in_git", "model_card_display"]}),
                *fieldsets]

    # A model's versions and deployments, read through the reverse relations (catalog does
    # not import the registry or the deployments), each linked to its own admin page, and
    # each deployment to its endpoint's page.
    @admin.display(description="versions")
    def versions_table(self, model):
        versions = model.versions.order_by("-model_version").prefetch_related("aliases")
        rows = [(reverse("admin:registry_modelversion_change", args=[version.pk]),
                 f"v{version.model_version}", version.get_status_display(),
                 ", ".join(sorted(alias.name for alias in version.aliases.all())) or "—",
                 version.created_by or "—", f"{version.create_at:%Y-%m-%d %H:%M}")
                for version in versions]
        if not rows:
            return "None yet."
        return format_html(
            '<table class="related-rows" id="model-versions"><thead><tr><th>version</th>'
            "<th>status</th><th>aliases</th><th>created by</th><th>registered</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td>'
                                 "<td>{}</td><td class=\"date\">{}</td></tr>", rows))

    @admin.display(description="deployments")
    def deployments_table(self, model):
        deployments = model.deployments.order_by("-create_at", "-pk").select_related(
            "model_version")
        rows = [(reverse("admin:deployments_deployment_change", args=[deployment.pk]),
                 deployment.deployment_id, f"v{deployment.model_version.model_version}",
                 reverse("pages:endpoint") + "?" + urlencode({"url": deployment.endpoint}),
                 deployment.endpoint, deployment.environment or "—",
                 deployment.get_status_display(),
                 f"{deployment.active_from:%Y-%m-%d %H:%M}" if deployment.active_from else "—",
                 f"{deployment.active_until:%Y-%m-%d %H:%M}" if deployment.active_until
                 else ("now" if deployment.active_from else "—"))
                for deployment in deployments]
        if not rows:
            return "None yet."
        return format_html(
            '<table class="related-rows" id="model-deployments"><thead><tr><th>deployment</th>'
            "<th>version</th><th>endpoint</th><th>environment</th><th>status</th>"
            "<th>from</th><th>until</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td>'
                                 '<td class="endpoint"><a href="{}">{}</a></td><td>{}</td>'
                                 '<td>{}</td><td class="date">{}</td><td class="date">{}</td>'
                                 "</tr>", rows))

    def get_readonly_fields(self, request, obj=None):
        managed = [form_field for field, form_field in GIT_MANAGED_FORM_FIELDS.items()
                   if obj is not None and obj.managed_in_git(field)]
        return [*self.readonly_fields, *managed]

    @admin.display(description="card in Git")
    def git_status(self, model):
        if model.in_git:
            return model.git_path
        return "no longer in Git" if model.git_repository else "—"

    @admin.display(description="source")
    def card_in_git(self, model):
        status = (
            "In Git: the fields this card sets are read-only here; change them in Git."
            if model.in_git else
            "No longer in Git: the card was removed; every field is editable here again."
        )
        managed = ", ".join(model.git_managed_fields) if model.in_git else ""
        return format_html(
            "<strong>{}</strong><br>{} in {} (commit {})<br>{}", status, model.git_path,
            model.git_repository, model.git_commit[:12],
            f"Fields set by the card: {managed}" if managed else "",
        )

    @admin.display(description="model card")
    def model_card_display(self, model):
        return model.model_card_html() if model.model_card else "—"

    @admin.display(description="data sources")
    def data_source_names(self, model):
        return ", ".join(source.name for source in model.data_sources.all())


class CatalogSourceForm(forms.ModelForm):
    """The webhook secret is write-only: never rendered, kept when left empty."""

    webhook_secret = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="Shared secret of the push webhook (HMAC-SHA256). Never shown; leave empty "
        "to keep the current one.",
    )
    remove_webhook_secret = forms.BooleanField(
        required=False, help_text="Remove the secret, which disables the webhook.")

    class Meta:
        model = CatalogSource
        fields = ["repository", "ref", "subdirectory", "webhook_secret"]

    def clean_webhook_secret(self):
        return self.cleaned_data["webhook_secret"] or self.instance.webhook_secret

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("remove_webhook_secret"):
            cleaned["webhook_secret"] = ""
        return cleaned


@admin.register(CatalogSource)
class CatalogSourceAdmin(PortalModelAdmin):
    form = CatalogSourceForm
    list_display = ["__str__", "commit", "last_synced_at", "result_summary"]
    search_fields = ["repository", "subdirectory"]
    readonly_fields = ["has_webhook_secret", "webhook_url", "last_synced_commit",
                       "last_synced_at", "last_result_display", "syncs_display", "create_at",
                       "update_at"]
    fieldsets = [
        (None, {"fields": ["repository", "ref", "subdirectory"]}),
        ("Push webhook", {"fields": ["webhook_url", "has_webhook_secret", "webhook_secret",
                                     "remove_webhook_secret"]}),
        ("Last sync", {"fields": ["last_synced_commit", "last_synced_at",
                                  "last_result_display", "syncs_display"]}),
        ("History", {"fields": ["create_at", "update_at"]}),
    ]
    actions = ["sync_now"]

    @admin.display(description="Syncs (latest first)")
    def syncs_display(self, source):
        if source.pk is None:
            return "—"
        syncs = source.syncs.order_by("-queued_at", "-id")[:10]
        rows = format_html_join("", "<li>{} {}: {} {}{}</li>", (
            (sync.pk, sync.queued_at.strftime("%Y-%m-%d %H:%M:%S"), sync.status,
             f"({sync.trigger})" if sync.trigger else "",
             f" — {sync.message}" if sync.message else "") for sync in syncs))
        link = reverse("admin:catalog_catalogsync_changelist") + f"?source__id__exact={source.pk}"
        return format_html('<ul>{}</ul><a href="{}">All syncs of this source</a>',
                           rows or "none yet", link)

    @admin.display(description="commit", ordering="last_synced_commit")
    def commit(self, source):
        return source.last_synced_commit[:12]

    @admin.display(description="webhook secret set", boolean=True)
    def has_webhook_secret(self, source):
        return bool(source.webhook_secret)

    @admin.display(description="webhook URL")
    def webhook_url(self, source):
        if source.pk is None:
            return "Shown once the source is saved."
        return format_html("<code>{}</code> on this portal's address (content type "
                           "application/json, push events)",
                           reverse("catalogsource-webhook", args=[source.pk]))

    @admin.display(description="last result")
    def result_summary(self, source):
        result = source.last_result or {}
        if "error" in result:
            return result["error"]
        counts = result.get("counts")
        if not counts:
            return "—"
        return ", ".join(f"{count} {name}" for name, count in counts.items())

    @admin.display(description="last result")
    def last_result_display(self, source):
        failures = (source.last_result or {}).get("failed") or []
        return format_html(
            "{}{}", self.result_summary(source),
            format_html("<ul>{}</ul>", format_html_join(
                "", "<li>{}: {}</li>", ((f["path"], f["reason"]) for f in failures)))
            if failures else "",
        )

    @admin.action(description="Sync now from Git (queued for a worker)",
                  permissions=["change"])
    def sync_now(self, request, queryset):
        for source in queryset:
            sync = request_sync(source=source, trigger="admin", user=request.user)
            self.message_user(
                request, f"{source}: sync {sync.pk} is {sync.status}; its progress and result "
                "are under Syncs on the source's page.", messages.SUCCESS)


@admin.register(CatalogSync)
class CatalogSyncAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = ["id", "source", "status", "trigger", "requested_by", "queued_at",
                    "started_at", "finished_at", "message"]
    list_select_related = ["source", "requested_by"]
    list_filter = ["status", "trigger"]
    search_fields = ["source__repository", "message", "commit"]


@admin.register(Grant)
class GrantAdmin(PortalModelAdmin):
    list_display = ["namespace", "user", "group", "role", "update_at"]
    list_select_related = ["namespace", "user", "group"]
    list_filter = ["role"]
    search_fields = ["namespace__path", "user__username", "group__name"]
    autocomplete_fields = ["namespace"]
    fields = ["namespace", "user", "group", "role", "create_at", "update_at"]
    readonly_fields = ["create_at", "update_at"]

    def save_model(self, request, obj, form, change):
        save_grant(
            instance=obj, namespace=obj.namespace.path, user=obj.user, group=obj.group,
            role=obj.role,
        )
