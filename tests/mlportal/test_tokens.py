from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
TOKENS = "/api/v1/tokens/"


def sign_in(api, username, **fields):
    return api.post(TOKEN, {"username": username, "password": f"{username}-password", **fields},
                    format="json")


def test_a_user_exchanges_a_password_for_a_token_that_works(api, reader):
    response = sign_in(api, "reader")

    assert response.status_code == 201
    assert response.json()["read_only"] is False
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/models/").status_code == 200


def test_only_a_digest_of_the_key_is_stored(api, reader):
    key = sign_in(api, "reader").json()["token"]

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


def test_an_expiry_in_the_past_is_a_400(api, reader):
    response = sign_in(api, "reader", expires_at="2020-01-01T00:00:00Z")

    assert response.status_code == 400
    assert "future" in response.json()["expires_at"][0]
    assert not Token.objects.exists()


@pytest.mark.parametrize("header", ["Token nope", "Token", "Token a b", "Bearer nope"])
def test_a_bad_token_gets_401(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    assert api.get("/api/v1/models/").status_code == 401


def test_a_token_stops_working_when_it_expires(client_for, reader):
    client = client_for(reader, expires_at=timezone.now() + timedelta(hours=1))
    assert client.get("/api/v1/models/").status_code == 200

    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/models/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_of_a_deactivated_user_stops_working(client_for, reader):
    client = client_for(reader)
    reader.is_active = False
    reader.save()

    assert client.get("/api/v1/models/").status_code == 401


def test_a_read_only_token_reads_but_cannot_write(api, superuser, example):
    key = sign_in(api, "root", read_only=True).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.get("/api/v1/models/").status_code == 200
    response = api.post("/api/v1/models/", example("catalog_model"), format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_using_a_token_records_when(client_for, reader):
    client = client_for(reader)
    client.get("/api/v1/models/")
    assert Token.objects.get().last_used_at is not None


def test_failed_sign_ins_are_throttled(api, reader):
    statuses = [
        api.post(TOKEN, {"username": "reader", "password": "guess"}, format="json").status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429

    # Even the right password waits now: the client is throttled, not the guess.
    response = sign_in(api, "reader")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_successful_sign_ins_are_not_throttled(api, reader):
    assert {sign_in(api, "reader").status_code for _ in range(12)} == {201}


def test_a_made_up_forwarded_for_header_does_not_dodge_the_throttle(api, reader):
    for attempt in range(10):
        api.post(TOKEN, {"username": "reader", "password": "guess"}, format="json",
                 HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}")

    response = api.post(TOKEN, {"username": "reader", "password": "guess"}, format="json",
                        HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429


class TestOwnTokens:
    def test_a_user_lists_their_own_tokens_without_keys(self, client_for, reader, superuser):
        client = client_for(reader, description="ci pipeline")
        save_new_token(Token(user=superuser, description="not yours"))

        response = client.get(TOKENS)

        assert response.status_code == 200
        [token] = response.json()["results"]
        assert token["description"] == "ci pipeline"
        assert token["user"] == "reader"
        assert token["read_only"] is False
        assert token["is_usable"] is True
        assert {"token", "key", "digest"}.isdisjoint(token)

    def test_a_superuser_sees_every_token(self, admin_api, reader):
        save_new_token(Token(user=reader))
        assert admin_api.get(TOKENS).json()["count"] == 2

    def test_a_user_revokes_their_own_token(self, client_for, reader):
        client = client_for(reader)
        other = save_new_token(Token(user=reader, description="leaked"))
        leaked = Token.objects.get(description="leaked")

        response = client.post(f"{TOKENS}{leaked.pk}/revoke/")

        assert response.status_code == 200
        assert response.json()["revoked_at"].endswith("Z")
        assert response.json()["is_usable"] is False
        client.credentials(HTTP_AUTHORIZATION=f"Token {other}")
        assert client.get(TOKENS).status_code == 401

    def test_revoking_again_keeps_the_first_time(self, client_for, reader):
        client = client_for(reader)
        token = Token.objects.get()
        token.revoked_at = revoked_at = timezone.now() - timedelta(days=1)
        token.save()
        other = client_for(reader)

        response = other.post(f"{TOKENS}{token.pk}/revoke/")

        assert response.status_code == 200
        token.refresh_from_db()
        assert token.revoked_at == revoked_at
        assert client.get(TOKENS).status_code == 401

    def test_another_users_token_is_not_found(self, client_for, reader, superuser):
        save_new_token(Token(user=superuser))
        theirs = Token.objects.get(user=superuser)
        client = client_for(reader)

        assert client.get(f"{TOKENS}{theirs.pk}/").status_code == 404
        assert client.post(f"{TOKENS}{theirs.pk}/revoke/").status_code == 404
        theirs.refresh_from_db()
        assert theirs.revoked_at is None

    def test_a_read_only_token_cannot_revoke(self, client_for, reader):
        client = client_for(reader, write_enabled=False)
        token = Token.objects.get()

        assert client.post(f"{TOKENS}{token.pk}/revoke/").status_code == 403

    def test_anonymous_gets_401(self, api, reader):
        save_new_token(Token(user=reader))
        assert api.get(TOKENS).status_code == 401
        assert api.post(f"{TOKENS}{Token.objects.get().pk}/revoke/").status_code == 401

    def test_tokens_cannot_be_made_or_changed_here(self, client_for, reader):
        client = client_for(reader)
        token = Token.objects.get()

        assert client.post(TOKENS, {}, format="json").status_code == 405
        assert client.patch(f"{TOKENS}{token.pk}/", {"read_only": True},
                            format="json").status_code == 405
        assert client.delete(f"{TOKENS}{token.pk}/").status_code == 405

    def test_the_list_filters_usable_tokens(self, client_for, reader):
        client = client_for(reader)
        save_new_token(Token(user=reader, revoked_at=timezone.now(), description="old"))

        usable = client.get(TOKENS, {"usable": "true"}).json()["results"]
        unusable = client.get(TOKENS, {"usable": "false"}).json()["results"]

        assert [t["description"] for t in unusable] == ["old"]
        assert len(usable) == 1

    def test_listing_costs_the_same_for_3_or_30_tokens(self, client_for, reader,
                                                      django_assert_max_num_queries):
        client = client_for(reader)
        for _ in range(2):
            save_new_token(Token(user=reader))
        client.get(TOKENS)
        with django_assert_max_num_queries(4) as three:
            assert client.get(TOKENS).json()["count"] == 3
        for _ in range(27):
            save_new_token(Token(user=reader))
        with django_assert_max_num_queries(len(three.captured_queries)):
            assert client.get(TOKENS).json()["count"] == 30


def test_tokens_are_audited_without_their_key(api, reader):
    key = sign_in(api, "reader", description="nightly").json()["token"]
    token = Token.objects.get()

    change = ObjectChange.objects.get(object_id=str(token.pk), action="create")
    assert change.postchange_data["description"] == "nightly"
    assert change.postchange_data["prefix"] == token.prefix
    assert key not in str(change.postchange_data)
    assert token.digest not in str(change.postchange_data)


class TestTokenAdmin:
    def test_the_new_key_is_shown_once_on_the_page_and_nowhere_else(self, client, reader):
        client.force_login(reader)

        response = client.post(reverse("admin:mlportal_token_add"), {
            "description": "from the browser", "write_enabled": "on", "expires_at_0": "",
            "expires_at_1": "",
        })

        assert response.status_code == 200
        token = Token.objects.get()
        key = response.context["key"]
        assert key.startswith(token.prefix) and key in response.content.decode()
        assert "no-store" in response["Cache-Control"]
        assert token.user == reader
        assert all(key not in morsel.value for morsel in response.cookies.values())
        assert key not in str(client.session.items())
        page = client.get(reverse("admin:mlportal_token_change", args=[token.pk]))
        assert key not in page.content.decode()

    def test_a_user_makes_tokens_for_themselves_only(self, client, reader, superuser):
        client.force_login(reader)

        client.post(reverse("admin:mlportal_token_add"), {
            "user": superuser.pk, "description": "sneaky", "write_enabled": "on",
        })

        assert Token.objects.get().user == reader

    def test_a_superuser_makes_tokens_for_automation_accounts(self, admin_client, make_user):
        robot = make_user("ci-robot")

        response = admin_client.post(reverse("admin:mlportal_token_add"), {
            "user": robot.pk, "description": "ci", "expires_at_0": "2999-01-01",
            "expires_at_1": "00:00:00",
        })

        assert response.status_code == 200
        token = Token.objects.get()
        assert token.user == robot and token.read_only
        assert token.expires_at.year == 2999

    def test_an_expiry_in_the_past_is_refused_on_the_form(self, admin_client, reader):
        response = admin_client.post(reverse("admin:mlportal_token_add"), {
            "user": reader.pk, "expires_at_0": "2020-01-01", "expires_at_1": "00:00:00",
        })

        assert response.status_code == 200
        assert "The expiry must be in the future." in response.content.decode()
        assert not Token.objects.exists()

    def test_users_see_and_revoke_their_own_tokens_only(self, client, reader, superuser):
        save_new_token(Token(user=reader, description="mine"))
        save_new_token(Token(user=superuser, description="theirs"))
        client.force_login(reader)
        url = reverse("admin:mlportal_token_changelist")

        listed = client.get(url).context["cl"].result_list
        client.post(url, {"action": "revoke", "_selected_action": [
            token.pk for token in Token.objects.all()]})

        assert [token.description for token in listed] == ["mine"]
        assert Token.objects.get(description="mine").revoked_at is not None
        assert Token.objects.get(description="theirs").revoked_at is None
        theirs = Token.objects.get(description="theirs")
        assert client.get(
            reverse("admin:mlportal_token_change", args=[theirs.pk])
        ).status_code == 302  # not found: back to the admin index
