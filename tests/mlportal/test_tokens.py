from datetime import timedelta

import pytest
from django.utils import timezone

from mlportal.models import Token

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def test_a_user_exchanges_a_password_for_a_token_that_works(api, reader):
    response = api.post(TOKEN, {"username": "reader", "password": "reader-password"},
                        format="json")

    assert response.status_code == 201
    key = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/models/").status_code == 200


def test_only_a_digest_of_the_key_is_stored(api, reader):
    key = api.post(TOKEN, {"username": "reader", "password": "reader-password"},
                   format="json").json()["token"]

    token = Token.objects.get()
    assert key not in (token.digest, token.prefix)
    assert key.startswith(token.prefix)


def test_a_wrong_password_gets_400_and_no_token(api, reader):
    response = api.post(TOKEN, {"username": "reader", "password": "nope"}, format="json")

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_missing_fields_are_named(api):
    response = api.post(TOKEN, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer nope"])
def test_a_bad_token_gets_401(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    assert api.get("/api/v1/models/").status_code == 401


def test_expired_and_revoked_tokens_get_401(client_for, reader):
    expired = client_for(reader, expires_at=timezone.now() - timedelta(seconds=1))
    revoked = client_for(reader, revoked_at=timezone.now())

    assert expired.get("/api/v1/models/").status_code == 401
    assert revoked.get("/api/v1/models/").status_code == 401


def test_a_read_only_token_cannot_write(client_for, superuser, example):
    client = client_for(superuser, write_enabled=False)

    assert client.get("/api/v1/models/").status_code == 200
    response = client.post("/api/v1/models/", example("catalog_model"), format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_using_a_token_records_when(client_for, reader):
    client = client_for(reader)
    client.get("/api/v1/models/")
    assert Token.objects.get().last_used_at is not None


def test_login_attempts_are_throttled(api, reader):
    statuses = [
        api.post(TOKEN, {"username": "reader", "password": "guess"}, format="json").status_code
        for _ in range(12)
    ]
    assert statuses[0] == 400
    assert statuses[-1] == 429
