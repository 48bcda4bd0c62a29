"""Workflows of the portal's own rows: tokens. (Grants, on the catalog's namespaces, are
saved by catalog.services.save_grant.)"""

from django.utils import timezone


def save_new_token(token):
    """Give an unsaved Token its key and store it; returns the key, which is not stored: show it
    once."""
    token.clean()
    key = token.set_new_key()
    token.save()
    return key


def revoke_token(token):
    """Revoke `token` from now on; revoking it again keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
