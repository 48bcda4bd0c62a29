"""Recognising and masking credentials, wherever data is shown."""

import re

from django.views.debug import SafeExceptionReporterFilter

MASK = "********"

SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd|phrase)?|secret|token|(^|_|-)key$|api_?key|access_?key|private_?key|"
    r"credential|auth|session|cookie|signature|^pwd$|dsn|connection_string|conn_str",
    re.IGNORECASE,
)


def is_secret_key(name):
    return bool(SECRET_KEY_PATTERN.search(str(name)))


def mask(data):
    """A copy of `data` where every value under a secret-looking key is replaced by MASK."""
    if isinstance(data, dict):
        return {
            key: (MASK if is_secret_key(key) and value not in (None, "") else mask(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask(item) for item in data]
    return data


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
