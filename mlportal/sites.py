"""The portal's admin site: open to every active account, sign-ins throttled."""

from functools import partial

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.auth.forms import AuthenticationForm

from mlportal import throttling


class PortalAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete, with each row labelled by its ModelAdmin's
    `autocomplete_label(obj)` when it has one (a version picker marks deprecated versions and
    shows aliases), else by str(obj)."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(obj)
        return result


class PortalAdminSite(admin.AdminSite):
    site_header = "mlportal"
    site_title = "mlportal"
    index_title = "Models, versions and deployments"
    # Not Django's staff-only form: whether `is_staff` or not, an account reads everything
    # and writes where its grants allow (mlportal.access); is_staff plays no part.
    login_form = AuthenticationForm

    def has_permission(self, request):
        return request.user.is_active and request.user.is_authenticated

    def autocomplete_view(self, request):
        return PortalAutocompleteJsonView.as_view(admin_site=self)(request)

    def login(self, request, extra_context=None):
        return throttling.throttled_sign_in(
            request, partial(super().login, request, extra_context))
