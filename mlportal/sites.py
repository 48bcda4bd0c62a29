"""The portal's admin site: open to every active account, sign-ins throttled."""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm

from mlportal import throttling


class PortalAdminSite(admin.AdminSite):
    site_header = "mlportal"
    site_title = "mlportal"
    index_title = "Models, versions and deployments"
    # Not Django's staff-only form: whether `is_staff` or not, an account reads everything
    # and writes where its grants allow (mlportal.access); is_staff plays no part.
    login_form = AuthenticationForm

    def has_permission(self, request):
        return request.user.is_active and request.user.is_authenticated

    def login(self, request, extra_context=None):
        return throttling.locked_out_response(request) or super().login(request, extra_context)
