"""What an artifact's name and link may be.

A link points at an object that exists elsewhere. Only remote schemes are accepted, so
that no link can make the portal (or a client that follows it) read a local file: the
inputs rejected here are those behind MLflow's CVE-2023-1177, CVE-2023-2356,
CVE-2023-2780 and CVE-2024-3573 (file: URIs, local paths, `..` hidden behind one or
more rounds of percent-encoding, NUL bytes, unexpected schemes).
"""

import re
import unicodedata
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from mlportal.secrets import is_secret_key

# oci: a container image (oci://<registry>/<repository>:<tag> or @sha256:<digest>).
LINK_SCHEMES = ("s3", "gs", "https", "hdfs", "abfss", "wasbs", "oci")
MAX_URI_LENGTH = 2000
# %252e%252e is ".." encoded twice; more rounds than this is no honest URI.
MAX_DECODING_ROUNDS = 4

validate_artifact_name = RegexValidator(
    r"^(?!\.{1,2}\Z)[A-Za-z0-9_.-]{1,100}\Z",
    "An artifact name is 1 to 100 letters, digits, '_', '.' or '-', and not '.' or '..'.",
    code="invalid_artifact_name",
)

validate_alias_name = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_-]{0,49}\Z",
    "An alias starts with a letter and holds up to 50 letters, digits, '_' and '-' "
    "(such as champion).",
    code="invalid_alias",
)

validate_tag_key = RegexValidator(
    r"^[A-Za-z0-9_.:/-]{1,100}\Z",
    "A tag key is 1 to 100 letters, digits, '_', '.', ':', '/' or '-'.",
    code="invalid_tag_key",
)

ALLOWED = f"Allowed: a URI with scheme {', '.join(LINK_SCHEMES)}, such as s3://bucket/key."


def _has_control_character(text):
    return any(unicodedata.category(char) == "Cc" for char in text)


def _decodings(uri):
    """The URI and each round of percent-decoding of it, until nothing changes."""
    forms = [uri]
    for _ in range(MAX_DECODING_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            return forms
        forms.append(decoded)
    raise ValidationError(
        "This URI is percent-encoded more times than any object name needs.", code="invalid_uri"
    )


def validate_link_uri(uri):
    if not isinstance(uri, str) or not uri:
        raise ValidationError(f"Give the URI of the artifact. {ALLOWED}", code="invalid_uri")
    if len(uri) > MAX_URI_LENGTH:
        raise ValidationError(f"A URI has at most {MAX_URI_LENGTH} characters.", code="invalid_uri")
    forms = _decodings(uri)
    if any(_has_control_character(form) for form in forms):
        raise ValidationError(
            "A URI may not hold NUL or other control characters, encoded or not.",
            code="invalid_uri",
        )
    if any(".." in re.split(r"[/\\?#]", form) for form in forms):
        raise ValidationError(
            "A URI may not hold '..' segments, encoded or not.", code="invalid_uri"
        )
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise ValidationError(f"This is not a URI. {ALLOWED}", code="invalid_uri") from exc
    scheme = parts.scheme.lower()
    local_path = uri.startswith(("/", "\\", ".")) or re.match(r"^[A-Za-z]:[\\/]", uri)
    if scheme == "file" or not scheme or local_path:
        raise ValidationError(
            f"Local files cannot be linked (no file: URIs or paths). {ALLOWED}",
            code="invalid_uri",
        )
    if scheme not in LINK_SCHEMES:
        raise ValidationError(f"The scheme {scheme}: is not allowed. {ALLOWED}",
                              code="invalid_uri")
    if not parts.hostname or not parts.path.strip("/"):
        raise ValidationError(
            f"A URI names its bucket or host and the object in it: {scheme}://bucket/key.",
            code="invalid_uri",
        )
    query_keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if parts.password is not None or any(
        is_secret_key(key) or key.lower() == "sig" for key in query_keys
    ):
        raise ValidationError(
            "A URI may not carry credentials (a password, a signature or a token): link the "
            "object itself; the portal never shows credentials.",
            code="invalid_uri",
        )
