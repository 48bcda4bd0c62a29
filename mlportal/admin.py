from django.contrib import admin, messages
from django.utils import timezone

from mlportal import access
from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token

admin.site.site_header = "mlportal"
admin.site.site_title = "mlportal"
admin.site.index_title = "Models, versions and deployments"


class PortalModelAdmin(admin.ModelAdmin):
    """Base of every admin page: rows and buttons follow the portal's one access rule."""

    def get_queryset(self, request):
        return access.restrict(super().get_queryset(request), request.user, "view")

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


@admin.register(Token)
class TokenAdmin(PortalModelAdmin):
    list_display = ["prefix", "user", "description", "write_enabled", "create_at", "expires_at",
                    "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    list_filter = ["write_enabled"]
    search_fields = ["prefix", "user__username", "description"]
    readonly_fields = ["prefix", "create_at", "last_used_at", "revoked_at"]
    fields = ["user", "description", "write_enabled", "expires_at", *readonly_fields]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key = save_new_token(obj)
        messages.warning(
            request, f"The new token's key is {key} — copy it now, it is not shown again."
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])


@admin.register(ObjectChange)
class ObjectChangeAdmin(PortalModelAdmin):
    list_display = ["time", "user_name", "principal", "action", "content_type", "object_repr",
                    "namespace", "source"]
    list_select_related = ["content_type"]
    list_filter = ["action", "source", "content_type"]
    search_fields = ["object_repr", "user_name", "principal", "namespace", "request_id"]
    date_hierarchy = "time"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
