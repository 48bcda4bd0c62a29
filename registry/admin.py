from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html

from mlportal import access
from mlportal.admin import PortalInline, PortalModelAdmin, ReadOnlyAdminMixin, ReadOnlyInline
from mlportal.filters import MAX_INTEGER
from registry import services
from registry.choices import VersionStatus
from registry.models import Alias, Artifact, ModelTag, ModelVersion, Tag
from registry.validators import validate_alias_name, validate_artifact_name


def download_link(artifact):
    if not artifact.is_stored:
        return "—"
    url = reverse("artifact-download", kwargs={"version_pk": artifact.version_id,
                                               "name": artifact.name})
    return format_html('<a href="{}">download</a>', url)


class ArtifactInline(ReadOnlyInline):
    """Artifacts are never changed or removed: shown read-only; upload with the form below."""

    model = Artifact
    fields = ["name", "uri", "size", "sha256", "download", "create_at"]
    readonly_fields = fields

    @admin.display(description="download")
    def download(self, artifact):
        return download_link(artifact)


class TagForm(forms.ModelForm):
    """A tag's fields carry their names for screen readers: a tabular inline shows them only
    as column headings, which a label-less input does not announce."""

    class Meta:
        model = Tag
        fields = ["key", "value"]
        widgets = {
            "key": forms.TextInput(attrs={"aria-label": "Tag key", "placeholder": "key"}),
            "value": forms.TextInput(attrs={"aria-label": "Tag value", "placeholder": "value"}),
        }


class TagInline(PortalInline):
    model = Tag
    form = TagForm
    extra = 1
    fields = ["key", "value"]


class ModelVersionForm(forms.ModelForm):
    model_version = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_INTEGER,
        help_text="Empty: the next number of this model."
    )

    confirm_deprecation = forms.BooleanField(
        required=False, label="Deprecate anyway",
        help_text="Needed to deprecate a version that serves an endpoint or that an alias "
                  "points at: they keep using it.",
    )

    class Meta:
        model = ModelVersion
        fields = ["catalog_model", "model_version", "description", "status", "created_by",
                  "create_at"]

    @staticmethod
    def deprecation_warnings(version, *, deprecated=None):
        """Set by the admin (ModelVersionAdmin.get_form) to its own deprecation_warnings."""
        return version.in_use_warnings(deprecated=deprecated)

    def clean(self):
        cleaned = super().clean()
        version = self.instance
        deprecating = (version.pk is not None
                       and cleaned.get("status") == VersionStatus.DEPRECATED
                       and version.status != VersionStatus.DEPRECATED)
        if deprecating and not cleaned.get("confirm_deprecation"):
            warnings = self.deprecation_warnings(version, deprecated=True)
            if warnings:
                self.add_error("status", [*warnings, 'Tick "Deprecate anyway" to confirm.'])
        return cleaned


class ArtifactUploadForm(forms.Form):
    name = forms.CharField(max_length=100, validators=[validate_artifact_name],
                           help_text="Such as trained or static_data.")
    file = forms.FileField()


class AliasForm(forms.Form):
    alias = forms.CharField(max_length=50, validators=[validate_alias_name],
                            help_text="Such as champion; moves it here if it points elsewhere.")


@admin.register(ModelVersion)
class ModelVersionAdmin(PortalModelAdmin):
    form = ModelVersionForm
    change_form_template = "admin/registry/modelversion/change_form.html"
    list_display = ["__str__", "status", "created_by", "registered", "artifact_count",
                    "alias_names"]
    list_select_related = ["catalog_model__namespace", "registered_by"]
    # Explicit: the artifact count's GROUP BY drops the model's default ordering.
    ordering = ["catalog_model__namespace__path", "catalog_model__model_name", "-model_version"]
    list_filter = ["status", "catalog_model__namespace"]
    search_fields = ["catalog_model__namespace__path", "catalog_model__model_name",
                     "created_by", "description"]
    autocomplete_fields = ["catalog_model"]
    # deployments.admin registers this admin again with where the version is deployed.
    inlines = [ArtifactInline, TagInline]
    actions = ["deprecate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            artifact_count=Count("artifacts", distinct=True)
        ).select_related("catalog_model__namespace").prefetch_related("aliases")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["catalog_model", "model_version", "description", "created_by", "create_at"]
        fields = ["catalog_model", "model_version", "description", "status", "alias_names",
                  "created_by", "registered_by", "create_at", "update_at"]
        if (obj.status != VersionStatus.DEPRECATED
                and self.deprecation_warnings(obj, deprecated=True)):
            fields.insert(fields.index("status") + 1, "confirm_deprecation")
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # What was registered stays as it was.
        return ["catalog_model", "model_version", "alias_names", "created_by",
                "registered_by", "create_at", "update_at"]

    def deprecation_warnings(self, version, *, deprecated=None):
        """Why deprecating `version` is risky (the registry knows of aliases; the deployments'
        admin adds the endpoints it serves)."""
        return version.in_use_warnings(deprecated=deprecated)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a new class on every call
        form.deprecation_warnings = staticmethod(self.deprecation_warnings)
        return form

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """The admin's search box and the version picker (autocomplete) read a search as a
        person means it: ModelVersionQuerySet.matching (a number is the version number, a
        path names the model, a word may be an alias or a tag)."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, "")
        if search_term.strip():
            queryset = queryset.matching(search_term)
        return queryset, may_have_duplicates

    def autocomplete_label(self, version):
        """What the version picker shows: `doc_classification v2 · /abc_corp/claim ·
        @champion`, and `(deprecated)` on a deprecated version."""
        parts = [version.label, version.catalog_model.namespace.path,
                 *(f"@{name}" for name in version.alias_names())]
        label = " · ".join(parts)
        if version.status == VersionStatus.DEPRECATED:
            label += " (deprecated)"
        return label

    @admin.display(description="registered", ordering="create_at")
    def registered(self, version):
        """When, and by which portal user when one registered it (a version loaded by a
        command has none; its client's principal is in "created by")."""
        when = formats.date_format(timezone.localtime(version.create_at), "DATETIME_FORMAT")
        if version.registered_by is None:
            return when
        return format_html('{}<br><span class="quiet">by {}</span>', when,
                           version.registered_by.get_username())

    @admin.display(description="artifacts", ordering="artifact_count")
    def artifact_count(self, version):
        return version.artifact_count

    @admin.display(description="aliases")
    def alias_names(self, version):
        return ", ".join(version.alias_names()) or "—"

    def save_model(self, request, obj, form, change):
        if change:
            services.update_version(version=obj)
            if "status" in form.changed_data:
                self.save_model_warnings(request, obj)
            return
        data = form.cleaned_data
        version = services.register_version(
            namespace=obj.catalog_model.namespace.path,
            model_name=obj.catalog_model.model_name,
            model_version=data.get("model_version"),
            description=data.get("description", ""),
            created_by=data.get("created_by", ""),
            create_at=data.get("create_at"),
            user=request.user,
        )
        # The admin goes on with `obj` (inlines, history, redirect): make it the saved row.
        obj.pk, obj.model_version, obj.created_by = (
            version.pk, version.model_version, version.created_by)
        obj._state.adding = False

    @admin.action(description="Deprecate the selected versions", permissions=["change"])
    def deprecate(self, request, queryset):
        """Asks first, on a page that says what each version still serves and which aliases
        name it; deprecates on the confirmation."""
        versions = list(queryset.select_related("catalog_model__namespace"))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(request, "admin/registry/modelversion/deprecate.html", {
                **self.admin_site.each_context(request),
                "title": "Deprecate these versions?",
                "opts": self.model._meta,
                "versions": [(version, self.deprecation_warnings(version, deprecated=True))
                             for version in versions],
                "risky": any(self.deprecation_warnings(version, deprecated=True)
                             for version in versions),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            })
        warnings = []
        for version in versions:
            services.deprecate_version(version=version)
            warnings += self.deprecation_warnings(version)
        messages.success(request, f"Deprecated {len(versions)} version(s).")
        for warning in warnings:
            messages.warning(request, warning)
        return None

    def save_model_warnings(self, request, obj):
        for warning in self.deprecation_warnings(obj):
            messages.warning(request, warning)

    def get_urls(self):
        return [
            path("<path:object_id>/upload/", self.admin_site.admin_view(self.upload_view),
                 name="registry_modelversion_upload"),
            path("<path:object_id>/alias/", self.admin_site.admin_view(self.alias_view),
                 name="registry_modelversion_alias"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        context.update(
            upload_form=ArtifactUploadForm(),
            alias_form=AliasForm(),
            # Adding an artifact or an alias to a version is writing in its namespace.
            can_upload=obj is not None and access.can(request.user, "change", obj),
            can_alias=obj is not None and access.can(request.user, "change", obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _version_for_post(self, request, object_id):
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404("No such version.")
        if request.method != "POST" or not access.can(request.user, "change", version):
            raise PermissionDenied
        return version

    def upload_view(self, request, object_id):
        """Upload an artifact from the change page. Deliberately outside a transaction (the
        admin's own views run in one): the file streams to the store holding no lock."""
        version = self._version_for_post(request, object_id)
        form = ArtifactUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "Not uploaded: " + "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()))
        else:
            upload = form.cleaned_data["file"]
            try:
                artifact = services.upload_artifact(
                    version=version, name=form.cleaned_data["name"], file=upload,
                    filename=upload.name, user=request.user,
                )
            except ValidationError as exc:
                messages.error(request, "Not uploaded: " + " ".join(exc.messages))
            except services.ArtifactStoreError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Uploaded {artifact.name} ({artifact.size} bytes, "
                                          f"sha256 {artifact.sha256}) to {artifact.uri}.")
        return redirect("admin:registry_modelversion_change", version.pk)

    def alias_view(self, request, object_id):
        version = self._version_for_post(request, object_id)
        form = AliasForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Alias not set: " + " ".join(form.errors["alias"]))
        else:
            try:
                services.set_alias(version=version, name=form.cleaned_data["alias"])
            except ValidationError as exc:
                messages.error(request, "Alias not set: " + " ".join(exc.messages))
            else:
                messages.success(request, f"{form.cleaned_data['alias']} now points at "
                                          f"{version}.")
        return redirect("admin:registry_modelversion_change", version.pk)


class StoredFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "stored"

    def lookups(self, request, model_admin):
        return [("yes", "uploaded"), ("no", "linked")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(storage_key="")
        if self.value() == "no":
            return queryset.filter(storage_key="")
        return queryset


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """All artifacts, to find one by name, URI or digest. Read-only: nothing registered is
    replaced or removed."""

    list_display = ["name", "version", "uri", "size", "sha256", "download", "create_at"]
    list_select_related = ["version__catalog_model__namespace"]
    list_filter = [StoredFilter, "version__catalog_model__namespace"]
    search_fields = ["name", "uri", "sha256", "version__catalog_model__model_name",
                     "version__catalog_model__namespace__path"]
    fields = ["version", "name", "uri", "size", "sha256", "download", "registered_by",
              "create_at"]
    readonly_fields = fields

    @admin.display(description="download")
    def download(self, artifact):
        return download_link(artifact)


@admin.register(Alias)
class AliasAdmin(PortalModelAdmin):
    """Aliases are set from a version's page; here they are listed, and can be removed."""

    list_display = ["name", "catalog_model", "version", "update_at"]
    list_select_related = ["catalog_model__namespace", "version__catalog_model__namespace"]
    list_filter = ["name", "catalog_model__namespace"]
    search_fields = ["name", "catalog_model__model_name", "catalog_model__namespace__path"]
    fields = ["catalog_model", "name", "version", "create_at", "update_at"]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.remove_alias(alias=obj)

    def delete_queryset(self, request, queryset):
        for alias in queryset:
            services.remove_alias(alias=alias)


@admin.register(ModelTag)
class ModelTagAdmin(PortalModelAdmin):
    """Tags of catalog models as a whole (MLflow's registered-model tags)."""

    list_display = ["catalog_model", "key", "value"]
    list_select_related = ["catalog_model__namespace"]
    list_filter = ["catalog_model__namespace"]
    search_fields = ["key", "value", "catalog_model__model_name",
                     "catalog_model__namespace__path"]
    autocomplete_fields = ["catalog_model"]
    fields = ["catalog_model", "key", "value"]

    def get_readonly_fields(self, request, obj=None):
        # A tag keeps its model and key; only its value changes.
        return ["catalog_model", "key"] if obj else []

    def save_model(self, request, obj, form, change):
        saved = services.set_model_tag(catalog_model=obj.catalog_model, key=obj.key,
                                       value=obj.value)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.remove_model_tag(tag=obj)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            services.remove_model_tag(tag=tag)
