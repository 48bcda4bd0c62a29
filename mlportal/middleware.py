"""Requests refused before any view sees them."""

from django.http import HttpResponse, JsonResponse

NUL_MESSAGE = "The URL holds a NUL character (%00), which no name or filter value may contain."


class RefuseNulInURLMiddleware:
    """A 400 for a URL whose path or query string holds NUL (%00): no name the portal keeps
    contains one, and PostgreSQL refuses to compare text holding it (every page and API filter
    would otherwise have to check)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
