"""The OpenAPI docs page (/api/docs/)."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI under the portal's Content-Security-Policy and Cross-Origin-Opener-Policy:
    its initialising script is served as a file from this URL (`?script`) instead of inline,
    its one inline style carries the CSP nonce, and it sends no `Cross-Origin-Opener-Policy:
    unsafe-none` (only OAuth2 pop-ups need it; the API takes tokens), so the site's
    `same-origin` applies."""

    template_name = "drf_spectacular/swagger_ui_csp.html"
