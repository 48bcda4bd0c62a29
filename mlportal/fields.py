"""Model fields whose values are encrypted at rest (Fernet, keys from settings).

An encrypted field holds secrets, so it also says how it is shown: like Django's
`get_FOO_display` for choices, it gives its model a `get_<name>_display()` method returning
the value masked (a model may define its own, for values secret only sometimes). The admin
shows that wherever it would show the field read-only (mlportal.admin.MaskedSecretsMixin).
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from mlportal.secrets import MASK, mask


def _fernet():
    keys = getattr(settings, "MLPORTAL_ENCRYPTION_KEYS", None) or [
        # Without configured keys, a key derived from SECRET_KEY: rotating SECRET_KEY then
        # needs MLPORTAL_ENCRYPTION_KEYS listing the old derived key after the new one.
        base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest()).decode()
    ]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "MLPORTAL_ENCRYPTION_KEYS holds Fernet keys (32 url-safe base64-encoded bytes)."
        ) from exc


def encrypt(text):
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: MLPORTAL_ENCRYPTION_KEYS (or SECRET_KEY) "
            "changed without keeping the old key."
        ) from exc


def secret_display_name(field_name):
    return f"get_{field_name}_display"


def encrypted_field_names(model):
    return [field.name for field in model._meta.concrete_fields
            if isinstance(field, EncryptedFieldMixin)]


class EncryptedFieldMixin:
    def masked(self, value):
        raise NotImplementedError

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        method = secret_display_name(self.name)
        if method in cls.__dict__:  # the model's own
            return

        def display(instance, field=self):
            return field.masked(getattr(instance, field.attname))

        display.short_description = self.verbose_name
        display.__name__ = method
        setattr(cls, method, display)


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    """Text stored as a Fernet token; Python code sees the clear text, and its display is
    masked."""

    def masked(self, value):
        return MASK if value else ""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)


class EncryptedJSONField(EncryptedFieldMixin, models.JSONField):
    """JSON stored as a Fernet token in a text column; Python code sees the data, and its
    display (JSON) has the values that look secret masked (mlportal.secrets.mask)."""

    def masked(self, value):
        return json.dumps(mask(value), ensure_ascii=False)

    def get_internal_type(self):
        return "TextField"

    def db_type(self, connection):
        return models.TextField().db_type(connection)

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(decrypt(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        return None if value is None else encrypt(json.dumps(value))
