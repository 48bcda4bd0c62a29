from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from deployments import services
from deployments.choices import (
    FINAL_STATUSES,
    RECORDABLE_STATUSES,
    DeploymentStatus,
    RollingStrategy,
)
from deployments.models import (
    CloudAccount,
    Deployment,
    DriftFinding,
    Endpoint,
    EnvironmentVariable,
    StatusChange,
    deprecation_warnings,
    serving_endpoints,
)
from mlportal import access
from mlportal.admin import PortalInline, PortalModelAdmin, ReadOnlyAdminMixin, ReadOnlyInline
from mlportal.secrets import MASK, merge_masked_text
from registry.admin import ModelVersionAdmin
from registry.models import ModelVersion


class EnvironmentVariableForm(forms.ModelForm):
    """A secret's value is write-only: the field shows empty, and left empty (or masked) it
    keeps the stored value."""

    value = forms.CharField(required=False, strip=False,
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))

    class Meta:
        model = EnvironmentVariable
        fields = ["name", "value", "secret"]

    class Media:
        js = ["deployments/secret-inputs.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._stored_secret():
            # Typed like a password: never shown, not even while a new value is typed.
            self.fields["value"].widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password",
                                           "placeholder": f"{MASK} stored secret: leave "
                                                          "empty to keep it"})
            self.initial["value"] = ""
        elif self.instance.pk is not None:
            self.initial["value"] = self.instance.shown_value  # a URL's password masked
        # A value typed for a variable marked secret is masked as it is typed (the secret
        # checkbox switches the input to a password input: secret-inputs.js).
        self.fields["value"].widget.attrs["data-secret-value"] = "true"

    def _stored_secret(self):
        return self.instance.pk is not None and self.instance.secret

    def clean(self):
        cleaned = super().clean()
        if self._stored_secret() and cleaned.get("value") in ("", MASK):
            if not cleaned.get("secret"):
                self.add_error("secret", "A stored secret stays secret; enter a new value to "
                                         "keep this variable in clear.")
            cleaned["value"] = self.instance.value
        elif self.instance.pk is not None and cleaned.get("value"):
            # A URL sent back with its password masked keeps the stored password.
            cleaned["value"] = merge_masked_text(cleaned["value"], self.instance.value)
        return cleaned


class EnvironmentVariableInline(PortalInline):
    model = EnvironmentVariable
    form = EnvironmentVariableForm
    extra = 0
    verbose_name = "environment variable"


class StatusHistoryInline(ReadOnlyInline):
    model = StatusChange
    fields = readonly_fields = ["status", "traffic_percent", "at", "user_name", "principal",
                                "reason"]
    verbose_name_plural = "status history"


class DeploymentInline(ReadOnlyInline):
    """Where a version is deployed, on the version's admin page."""

    model = Deployment
    fk_name = "model_version"
    show_change_link = True
    fields = readonly_fields = ["deployment_id", "endpoint", "environment", "deployment_method",
                                "rolling_strategy", "traffic_percent", "status", "active_from",
                                "active_until"]
    ordering = ["-create_at", "-id"]


NEW_DEPLOYMENT_FIELDS = ["model_version", "deployment_id", "create_at", "endpoint", "environment",
                         "deployment_method", "rolling_strategy", "traffic_percent", "resource"]


class DeploymentForm(forms.ModelForm):
    # Not "status": that model field is the services' alone, so Django keeps it off forms.
    record_as = forms.ChoiceField(
        label="Status",
        choices=[(value, DeploymentStatus(value).label) for value in RECORDABLE_STATUSES],
        initial=DeploymentStatus.ACTIVE,
        help_text="Active: it serves from its creation time, and a blue-green or rolling "
                  "deployment retires what served the endpoint before.",
    )

    class Meta:
        model = Deployment
        fields = NEW_DEPLOYMENT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            del self.fields["record_as"]  # a recorded deployment's status changes by actions

    user = None  # set by DeploymentAdmin.get_form on the form class made for the request

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not self.errors:
            candidate = Deployment(**{name: cleaned.get(name) for name in NEW_DEPLOYMENT_FIELDS})
            candidate.catalog_model_id = candidate.model_version.catalog_model_id
            try:
                services.validate_new_deployment(candidate, status=cleaned["record_as"])
                services.check_endpoint(endpoint=candidate.endpoint, user=self.user)
            except ValidationError as exc:
                self.add_error(None, exc)
            except PermissionDenied as exc:
                self.add_error("endpoint", str(exc))
        return cleaned


# What a recorded deployment keeps: changed only by recording a new deployment.
RECORDED = ["model_version", "deployment_id", "create_at", "endpoint", "deployment_method",
            "rolling_strategy"]
SERVER_KEPT = ["status", "active_from", "active_until", "replaced_by", "update_at"]


@admin.register(Deployment)
class DeploymentAdmin(PortalModelAdmin):
    form = DeploymentForm
    list_display = ["__str__", "model_version", "endpoint_link", "environment", "deployment_method",
                    "rolling_strategy", "traffic_percent", "status", "active_from",
                    "active_until"]
    list_select_related = ["catalog_model__namespace", "model_version__catalog_model__namespace"]
    list_filter = ["deployment_method", "rolling_strategy", "status", "environment",
                   ("catalog_model__namespace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["endpoint", "environment", "resource", "catalog_model__model_name",
                     "catalog_model__namespace__path"]
    autocomplete_fields = ["model_version"]
    date_hierarchy = "create_at"
    inlines = [EnvironmentVariableInline, StatusHistoryInline]
    actions = ["activate", "promote", "roll_back", "mark_failed", "retire"]

    def get_inlines(self, request, obj):
        return self.inlines if obj else [EnvironmentVariableInline]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a new class on every call
        form.user = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*NEW_DEPLOYMENT_FIELDS, "record_as"]
        return [*RECORDED, "environment", "traffic_percent", "resource", *SERVER_KEPT]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status in FINAL_STATUSES:
            return [*RECORDED, "traffic_percent", "resource", *SERVER_KEPT]
        return [*RECORDED, *SERVER_KEPT]

    def has_delete_permission(self, request, obj=None):
        # A deployment is history: it is retired, fails or is rolled back, never deleted.
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in ("environment", "traffic_percent", "resource")
                       if name in data}
            services.update_deployment(deployment=obj, user=request.user, **changes)
            return
        recorded = services.record_deployment(
            model_version=data["model_version"], deployment_id=data["deployment_id"],
            create_at=data["create_at"], endpoint=data["endpoint"],
            environment=data["environment"], deployment_method=data["deployment_method"],
            rolling_strategy=data["rolling_strategy"], traffic_percent=data["traffic_percent"],
            resource=data["resource"], status=data["record_as"], user=request.user,
        )
        # The inline formsets were built around `obj`: it becomes the recorded row.
        obj.pk = recorded.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def _apply(self, request, queryset, operation, done):
        succeeded = 0
        for deployment in queryset:
            try:
                with transaction.atomic():
                    operation(deployment)
            except ValidationError as exc:
                self.message_user(request, f"{deployment}: {' '.join(exc.messages)}",
                                  messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{done}: {succeeded} deployment(s).", messages.SUCCESS)

    def _change_status(self, request, queryset, status, done):
        self._apply(request, queryset, lambda deployment: services.change_status(
            deployment=deployment, status=status, user=request.user), done)

    # Roll back and promote from the deployment's own page: a confirmation page shows what
    # will serve the endpoint afterwards (the services' own workflow, run in a savepoint that
    # is rolled back), then the operation runs on POST.
    OPERATION_TITLES = {"rollback": "Roll back", "promote": "Promote"}

    def get_urls(self):
        return [
            path("<path:object_id>/<str:operation>/confirm/",
                 self.admin_site.admin_view(self.operation_view),
                 name="deployments_deployment_operation"),
            *super().get_urls(),
        ]

    def available_operations(self, request, deployment):
        if deployment is None or deployment.status != DeploymentStatus.ACTIVE:
            return []
        if not access.can(request.user, "change", deployment):
            return []
        operations = ["rollback"]
        if deployment.rolling_strategy == RollingStrategy.CANARY:
            operations.insert(0, "promote")
        return operations

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        context["operations"] = [
            (reverse("admin:deployments_deployment_operation", args=[obj.pk, operation]),
             self.OPERATION_TITLES[operation])
            for operation in self.available_operations(request, obj)
        ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def operation_view(self, request, object_id, operation):
        deployment = self.get_object(request, object_id)
        if deployment is None or operation not in self.OPERATION_TITLES:
            raise Http404("No such deployment or operation.")
        if not access.can(request.user, "change", deployment):
            raise PermissionDenied
        change_page = reverse("admin:deployments_deployment_change", args=[deployment.pk])
        title = self.OPERATION_TITLES[operation]
        if request.method == "POST":
            try:
                with transaction.atomic():
                    result = services.OPERATIONS[operation](deployment=deployment,
                                                            user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{deployment}: {' '.join(exc.messages)}",
                                  messages.ERROR)
                return redirect(change_page)
            now = services.serving(deployment.endpoint)
            self.message_user(request, format_html(
                "{} {}. {} is served now by {}.", "Rolled back" if operation == "rollback"
                else "Promoted", deployment, deployment.endpoint,
                "; ".join(self.describe_serving(d) for d in now) or "nothing"),
                messages.SUCCESS)
            target = result if result is not None else deployment
            return redirect("admin:deployments_deployment_change", target.pk)
        try:
            outcome = services.preview(deployment=deployment, operation=operation,
                                       user=request.user)
        except ValidationError as exc:
            self.message_user(request, f"{title}: {' '.join(exc.messages)}", messages.ERROR)
            return redirect(change_page)
        return TemplateResponse(request, "admin/deployments/deployment/confirm_operation.html", {
            **self.admin_site.each_context(request),
            "title": f"{title} {deployment}?",
            "opts": self.model._meta,
            "original": deployment,
            "operation": operation,
            "operation_title": title,
            "before": outcome["before"],
            "after": outcome["after"],
            "restored": next((row for row in outcome["after"] if row["deployment_id"] is None),
                             None),
            "change_page": change_page,
        })

    @staticmethod
    def describe_serving(deployment):
        share = (f", {deployment.traffic_percent}%" if deployment.traffic_percent else "")
        return (f"{deployment.model_version.label} (deployment {deployment.deployment_id}, "
                f"{deployment.get_rolling_strategy_display()}{share})")

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_link(self, deployment):
        url = reverse("pages:endpoint") + "?" + urlencode({"url": deployment.endpoint})
        return format_html('<a href="{}" title="The endpoint\'s page: what served it, when">'
                           '{}</a>', url, deployment.endpoint)

    @admin.action(description="Activate the selected pending deployments",
                  permissions=["change"])
    def activate(self, request, queryset):
        self._change_status(request, queryset, DeploymentStatus.ACTIVE, "Activated")

    @admin.action(description="Mark the selected deployments failed", permissions=["change"])
    def mark_failed(self, request, queryset):
        self._change_status(request, queryset, DeploymentStatus.FAILED, "Marked failed")

    @admin.action(description="Retire the selected deployments", permissions=["change"])
    def retire(self, request, queryset):
        self._change_status(request, queryset, DeploymentStatus.RETIRED, "Retired")

    @admin.action(description="Promote the selected canaries (the others at their endpoint "
                              "retire)", permissions=["change"])
    def promote(self, request, queryset):
        self._apply(request, queryset, lambda deployment: services.promote(
            deployment=deployment, user=request.user), "Promoted")

    @admin.action(description="Roll back the selected deployments (what ran before is "
                              "deployed again)", permissions=["change"])
    def roll_back(self, request, queryset):
        self._apply(request, queryset, lambda deployment: services.rollback(
            deployment=deployment, user=request.user), "Rolled back")


class CloudAccountForm(forms.ModelForm):
    """The external id is write-only: shown empty, and left empty it keeps the stored one."""

    external_id = forms.CharField(
        required=False, strip=False, label="External id",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The external id the role's trust policy asks for, if any. Never shown; "
                  "leave empty to keep the stored one.")

    class Meta:
        model = CloudAccount
        fields = ["name", "account_id", "regions", "role_arn", "external_id", "endpoint_url",
                  "enabled"]

    def clean_external_id(self):
        value = self.cleaned_data.get("external_id")
        if self.instance.pk is not None and value in ("", MASK):
            return self.instance.external_id
        return value


@admin.register(CloudAccount)
class CloudAccountAdmin(PortalModelAdmin):
    """Superusers manage the accounts (the access rule); everyone signed in reads them."""

    form = CloudAccountForm
    list_display = ["name", "account_id", "regions", "role_arn", "enabled", "last_checked_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "account_id", "role_arn"]
    readonly_fields = ["last_checked_at", "create_at", "update_at"]

    def get_fields(self, request, obj=None):
        return [*CloudAccountForm.Meta.fields, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in CloudAccountForm.Meta.fields}
        saved = services.save_cloud_account(instance=obj if change else None, **data)
        obj.pk = saved.pk
        obj._state.adding = False


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "resolved":
            return queryset.resolved()
        return queryset


@admin.register(DriftFinding)
class DriftFindingAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """Written by the drift checks only. An owner records an unrecorded resource as a
    deployment with the action (its version: the one whose artifact runs there)."""

    list_display = ["kind", "deployment", "resource", "subject", "expected", "found",
                    "opened_at", "resolved_at", "account"]
    list_select_related = ["account", "deployment__catalog_model__namespace"]
    list_filter = [OpenFilter, "kind", "account",
                   ("deployment__catalog_model__namespace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["resource", "subject", "deployment__endpoint",
                     "deployment__catalog_model__model_name"]
    date_hierarchy = "opened_at"
    fields = ["kind", "account", "deployment", "resource", "subject", "expected", "found",
              "found_version", "opened_at", "last_seen_at", "resolved_at", "resolution"]
    readonly_fields = fields
    actions = ["record_as_deployment"]

    def get_actions(self, request):
        # Recording checks the grant on the version's namespace itself: an unrecorded
        # resource has no namespace yet, so the generic "rows you may change" filter would
        # drop every row.
        actions = super(PortalModelAdmin, self).get_actions(request)
        if not access.granted_paths(request.user) and not request.user.is_superuser:
            actions.pop("record_as_deployment", None)
        return actions

    @admin.action(description="Record the selected unrecorded resources as deployments")
    def record_as_deployment(self, request, queryset):
        recorded = 0
        for finding in queryset.select_related("found_version"):
            try:
                with transaction.atomic():
                    if finding.found_version is not None:
                        access.require_target(request.user, Deployment,
                                              {"model_version": finding.found_version})
                    deployment = services.record_unrecorded(finding=finding, user=request.user)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{finding}: {text}", messages.ERROR)
            else:
                recorded += 1
                self.message_user(request, f"{finding.resource}: recorded as {deployment}.",
                                  messages.SUCCESS)
        if not recorded and not queryset.exists():
            self.message_user(request, "Nothing selected.", messages.WARNING)


@admin.register(Endpoint)
class EndpointAdmin(PortalModelAdmin):
    """Whose each endpoint is: claimed by the first deployment recorded there; handing one
    to another team is changing its namespace."""

    list_display = ["url", "namespace", "create_at"]
    list_select_related = ["namespace"]
    list_filter = [("namespace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["url", "namespace__path"]
    autocomplete_fields = ["namespace"]
    fields = ["url", "namespace", "create_at"]
    readonly_fields = ["create_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "url"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False


# The registry's version admin, with where the version is deployed: deployments build on the
# registry, never the other way round.
admin.site.unregister(ModelVersion)


@admin.register(ModelVersion)
class DeployedVersionAdmin(ModelVersionAdmin):
    inlines = [*ModelVersionAdmin.inlines, DeploymentInline]

    def get_inlines(self, request, obj):
        # A version being registered has not been deployed anywhere yet.
        return self.inlines if obj else ModelVersionAdmin.inlines

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None:
            fields.insert(fields.index("alias_names") + 1, "serving")
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "serving"] if obj is not None else fields

    def deprecation_warnings(self, version, *, deprecated=None):
        """Deprecating a version that serves an endpoint or that an alias names is risky."""
        return deprecation_warnings(version, deprecated=deprecated)

    @admin.display(description="serves now")
    def serving(self, version):
        endpoints = serving_endpoints(version)
        if not endpoints:
            return "—"
        warnings = deprecation_warnings(version)
        warning = (format_html('<p class="errornote">{}</p>', " ".join(warnings))
                   if warnings else "")
        return format_html("{}{}", format_html_join(
            mark_safe("<br>"), '<a href="{}">{}</a>',
            ((reverse("pages:endpoint") + "?" + urlencode({"url": endpoint}), endpoint)
             for endpoint in endpoints)), warning)
