"""Recognising and masking credentials, wherever data is shown."""

import re

from django.views.debug import SafeExceptionReporterFilter

MASK = "********"

SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd|phrase)?|secret|token|(^|_|-)key$|api_?key|access_?key|private_?key|"
    r"credential|auth|session|cookie|signature|^sig$|^pwd$|dsn|connection_string|conn_str",
    re.IGNORECASE,
)


def is_secret_key(name):
    return bool(SECRET_KEY_PATTERN.search(str(name)))


# The password of a URL's userinfo (scheme://user:password@host...): from the first colon
# after the user to the last @ of the URL's word, so that an @ left unencoded in a password
# hides more rather than less.
URL_PASSWORD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*:(?P<secret>\S*?)(?=@[^\s@]*(?:\s|$))")
# A query parameter of a URL (?password=..., &X-Amz-Signature=...), secret when its name is.
URL_PARAMETER = re.compile(r"[?&;](?P<name>[^\s=&;#?]+)=(?P<secret>[^\s&;#]*)")


def _url_secrets(text):
    """The (start, end) of each secret inside the URL-like parts of `text`, in order."""
    if "://" not in text:
        return []
    spans = [match.span("secret") for match in URL_PASSWORD.finditer(text)]
    spans += [match.span("secret") for match in URL_PARAMETER.finditer(text)
              if is_secret_key(match.group("name"))]
    kept = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if not kept or start >= kept[-1][1]:  # a parameter inside a masked password: once
            kept.append((start, end))
    return kept


def _replace(text, spans, replacements):
    parts, last = [], 0
    for (start, end), replacement in zip(spans, replacements, strict=True):
        parts += [text[last:start], replacement]
        last = end
    return "".join(parts) + text[last:]


def mask_text(text):
    """`text` with the password of each URL in it (and each secret-looking query parameter)
    replaced by MASK: postgres://svc:********@host/db."""
    spans = _url_secrets(text)
    return _replace(text, spans, [MASK] * len(spans)) if spans else text


def mask(data):
    """A copy of `data` where every value under a secret-looking key is replaced by MASK,
    and so is every secret inside a URL-like string (see mask_text)."""
    if isinstance(data, dict):
        return {
            key: (MASK if is_secret_key(key) and value not in (None, "") else mask(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask(item) for item in data]
    if isinstance(data, str):
        return mask_text(data)
    return data


def merge_masked_text(submitted, stored):
    """`submitted` with each masked secret of its URLs replaced by the stored secret at the
    same place (the same-numbered secret of `stored`): a URL read masked and sent back, even
    with another host, keeps its password."""
    if MASK not in submitted or not isinstance(stored, str):
        return submitted
    stored_secrets = [stored[start:end] for start, end in _url_secrets(stored)]
    spans = _url_secrets(submitted)
    replacements = [
        stored_secrets[index] if submitted[start:end] == MASK and index < len(stored_secrets)
        else submitted[start:end]
        for index, (start, end) in enumerate(spans)
    ]
    return _replace(submitted, spans, replacements)


def merge_masked(submitted, stored):
    """`submitted` with each MASK placeholder replaced by the value stored under that key.

    Clients send back what they read; a masked value means "unchanged".
    """
    if isinstance(submitted, dict):
        stored = stored if isinstance(stored, dict) else {}
        return {
            key: (stored.get(key) if value == MASK and key in stored else
                  merge_masked(value, stored.get(key)))
            for key, value in submitted.items()
        }
    if isinstance(submitted, list):
        stored = stored if isinstance(stored, list) else []
        return [
            merge_masked(item, stored[index] if index < len(stored) else None)
            for index, item in enumerate(submitted)
        ]
    if isinstance(submitted, str):
        return merge_masked_text(submitted, stored)
    return submitted


class SecretReporterFilter(SafeExceptionReporterFilter):
    """What error reports (debug pages, mails to ADMINS) show: no POST value at all, and no
    setting, request header or local variable whose name (or nested key) looks secret.

    Active even with DEBUG on, so that a debug page shown by mistake leaks nothing either.
    """

    hidden_settings = re.compile(
        rf"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|"
        rf"{SECRET_KEY_PATTERN.pattern}",
        re.IGNORECASE,
    )

    def is_active(self, request):
        return True

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        cleansed = multivaluedict.copy()
        for name in cleansed:
            cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return self.get_cleansed_multivaluedict(request, request.POST)

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
