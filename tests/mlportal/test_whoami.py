"""GET /api/v1/auth/whoami/: who the credentials are, at the API's fixed cost."""

import datetime

import pytest
from django.utils import timezone

WHOAMI = "/api/v1/auth/whoami/"

pytestmark = pytest.mark.django_db


def test_a_token_names_its_user_and_itself_never_its_key(client_for, reader):
    expires = timezone.now() + datetime.timedelta(days=3)
    client = client_for(reader, write_enabled=False, expires_at=expires)
    key = client._credentials["HTTP_AUTHORIZATION"].split()[1]

    response = client.get(WHOAMI)

    assert response.status_code == 200
    body = response.json()
    assert body == {"username": "reader", "is_superuser": False, "token": {
        "prefix": key[:len(body["token"]["prefix"])], "read_only": True,
        "expires_at": expires.astimezone(datetime.UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")}}
    assert key not in response.content.decode()


def test_a_session_has_no_token(admin_client):
    assert admin_client.get(WHOAMI).json() == {
        "username": "admin", "is_superuser": True, "token": None}


def test_anonymous_and_revoked_credentials_are_refused(api, client_for, reader):
    assert api.get(WHOAMI).status_code == 401
    client = client_for(reader, revoked_at=timezone.now())
    assert client.get(WHOAMI).status_code == 401


def test_it_costs_the_token_lookup_alone(admin_api, django_assert_num_queries):
    admin_api.get(WHOAMI)  # the token's first use records it
    with django_assert_num_queries(1):
        assert admin_api.get(WHOAMI).status_code == 200
