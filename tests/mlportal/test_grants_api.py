import pytest
from django.contrib.auth.models import Group

from mlportal.models import Grant, ObjectChange

pytestmark = pytest.mark.django_db

GRANTS = "/api/v1/grants/"


@pytest.fixture
def owner_api(make_user, grant, client_for):
    carol = make_user("carol")
    grant(carol, "/team_a", "owner")
    return client_for(carol)


@pytest.fixture
def alice(make_user):
    return make_user("alice")


def test_an_owner_grants_a_user_a_role_as_the_document_says(owner_api, alice):
    document = {"namespace": "/team_a", "user": "alice", "role": "editor"}

    response = owner_api.post(GRANTS, document, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in document} == document
    assert body["group"] is None
    assert owner_api.get(f"{GRANTS}{body['id']}/").json() == body


def test_a_group_is_granted_by_name(owner_api):
    Group.objects.create(name="claims-team")

    response = owner_api.post(GRANTS, {"namespace": "/team_a/claims", "group": "claims-team",
                                       "role": "owner"}, format="json")

    assert response.status_code == 201
    assert response.json()["user"] is None
    assert Grant.objects.get(group__name="claims-team").namespace.path == "/team_a/claims"


def test_the_role_defaults_to_editor(owner_api, alice):
    response = owner_api.post(GRANTS, {"namespace": "/team_a", "user": "alice"}, format="json")
    assert response.json()["role"] == "editor"


def test_an_owner_changes_a_role_and_revokes_a_grant(owner_api, grant, alice):
    given = grant(alice, "/team_a/claims")

    changed = owner_api.patch(f"{GRANTS}{given.pk}/", {"role": "owner"}, format="json")
    deleted = owner_api.delete(f"{GRANTS}{given.pk}/")

    assert changed.status_code == 200 and changed.json()["role"] == "owner"
    assert deleted.status_code == 204
    assert not Grant.objects.filter(user=alice).exists()


def test_grants_are_audited(owner_api, alice):
    owner_api.post(GRANTS, {"namespace": "/team_a", "user": "alice"}, format="json")

    change = ObjectChange.objects.get(action="create", content_type__model="grant",
                                      source="api")
    assert change.user_name == "carol"
    assert change.namespace == "/team_a"
    assert change.postchange_data == {"namespace": "/team_a", "user": "alice", "group": None,
                                      "role": "editor"}


def test_every_signed_in_user_reads_the_grants(reader_api, grant, alice):
    grant(alice, "/team_a")
    response = reader_api.get(GRANTS, {"within": "/team_a"})
    assert [(g["namespace"], g["user"]) for g in response.json()["results"]] == [
        ("/team_a", "alice")]


def test_anonymous_gets_401(api):
    assert api.get(GRANTS).status_code == 401
    assert api.post(GRANTS, {}, format="json").status_code == 401


def test_a_reader_cannot_grant(reader_api, alice):
    response = reader_api.post(GRANTS, {"namespace": "/team_a", "user": "alice"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(("document", "field"), [
    ({"namespace": "/team_a", "user": "nobody"}, "user"),
    ({"namespace": "/team_a", "group": "no-such-group"}, "group"),
    ({"namespace": "/team_a"}, "user"),
    ({"namespace": "/team_a", "user": "alice", "group": "g"}, "user"),
    ({"namespace": "/team_a", "user": "alice", "role": "admin"}, "role"),
    ({"namespace": "team_a", "user": "alice"}, "namespace"),
    ({"user": "alice"}, "namespace"),
])
def test_bad_input_is_a_400_naming_the_field(owner_api, alice, document, field):
    Group.objects.create(name="g")

    response = owner_api.post(GRANTS, document, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Grant.objects.filter(user=alice).exists()


def test_a_second_grant_for_the_same_user_and_namespace_is_a_conflict(owner_api, grant, alice):
    grant(alice, "/team_a")

    response = owner_api.post(GRANTS, {"namespace": "/team_a", "user": "alice", "role": "owner"},
                              format="json")

    assert response.status_code == 409
    assert "change its role" in response.json()["user"][0]


def test_listing_costs_the_same_for_3_or_30_grants(admin_api, grant, make_user,
                                                  django_assert_max_num_queries):
    users = [make_user(f"user{index}") for index in range(30)]
    for user in users[:3]:
        grant(user, "/team_a")
    admin_api.get(GRANTS)
    with django_assert_max_num_queries(10) as three:
        assert admin_api.get(GRANTS).json()["count"] == 3
    for user in users[3:]:
        grant(user, "/team_a")
    with django_assert_max_num_queries(len(three.captured_queries)):
        assert admin_api.get(GRANTS).json()["count"] == 30
