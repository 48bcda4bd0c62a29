"""How the API answers browsers."""

from csp.constants import UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API under the portal's Content-Security-Policy. Its template
    (templates/rest_framework/api.html) gives its inline <style> the nonce; DRF's own markup
    keeps a few style attributes (float: right, ...), allowed on these pages only. Scripts
    stay 'self' only, and images and fonts 'self', so a style cannot send anything away."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src-attr": [UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)
