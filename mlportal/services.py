"""Workflows of the portal's own rows: tokens and grants."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mlportal.models import Grant


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


@transaction.atomic
def save_grant(*, instance=None, namespace=None, **fields):
    """Create or update a grant. `namespace` is a path, created on first use like the
    catalog's; `fields` are user, group and role."""
    from catalog.services import ensure_namespace

    grant = instance or Grant()
    if namespace is not None:
        try:
            grant.namespace = ensure_namespace(namespace)
        except ValidationError as exc:
            raise ValidationError({"namespace": exc.messages}) from exc
    for name, value in fields.items():
        setattr(grant, name, value)
    grant.full_clean(validate_unique=False, validate_constraints=False)
    grantee = {"user": grant.user} if grant.user_id else {"group": grant.group}
    clash = Grant.objects.filter(namespace=grant.namespace, **grantee).exclude(pk=grant.pk)
    if clash.exists():
        field = next(iter(grantee))
        raise ValidationError({field: ValidationError(
            f"{grant.grantee} already has a grant on {grant.namespace.path}; change its role "
            "instead.", code="unique")})
    grant.save()
    return grant
