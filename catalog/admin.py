from django import forms
from django.contrib import admin
from django.db.models import Count

from catalog.models import CatalogModel, DataSource, ModelDataSource, Namespace
from catalog.services import ensure_namespace
from mlportal import access
from mlportal.admin import PortalInline, PortalModelAdmin
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


class UsedByInline(PortalInline):
    model = ModelDataSource
    fk_name = "data_source"
    extra = 0
    can_delete = False
    fields = ["catalog_model"]
    readonly_fields = ["catalog_model"]
    verbose_name = "model fed by this data source"
    verbose_name_plural = "models fed by this data source"

    def has_add_permission(self, request, obj=None):
        return False

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
    list_display = ["model_name", "namespace", "owner", "data_source_names", "update_at"]
    list_select_related = ["namespace"]
    list_filter = ["namespace", OwnerFilter, "data_sources__type"]
    search_fields = ["namespace__path", "model_name", "owner", "data_sources__name"]
    autocomplete_fields = ["namespace"]
    inlines = [DataSourceInline]
    readonly_fields = ["create_at", "update_at"]
    fieldsets = [
        (None, {"fields": ["namespace", "model_name", "description", "owner", "url"]}),
        ("Inference input", {"fields": ["inference_input_description", "inference_input_schema"]}),
        ("Inference output",
         {"fields": ["inference_output_description", "inference_output_schema"]}),
        ("History", {"fields": ["create_at", "update_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("data_sources")

    @admin.display(description="data sources")
    def data_source_names(self, model):
        return ", ".join(source.name for source in model.data_sources.all())
