"""GET /api/v1/changes/: the audit trail, read-only, for auditors."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.services import save_catalog_model, save_data_source
from mlportal import audit
from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/changes/"


@pytest.fixture
def auditor_api(client_for, auditor):
    return client_for(auditor)


@pytest.fixture
def trail(make_user):
    """Changes by two users in two namespaces, on two days."""
    # Superusers: a top-level namespace is theirs to create (mlportal.access).
    alice, bob = make_user("alice", superuser=True), make_user("bob", superuser=True)
    with audit.change_context(user=alice, principal="arn:aws:iam::1:user/alice"):
        claims = save_catalog_model(namespace="/abc_corp/claim", model_name="triage")
    with audit.change_context(user=bob):
        save_catalog_model(instance=claims, owner="bob@example.com")
        save_catalog_model(namespace="/abc_corp2", model_name="lookalike")
        save_data_source(name="crm", connection={"password": "hunter2"})
    return claims


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_anonymous_gets_401(api):
    assert api.get(CHANGES).status_code == 401


def test_a_user_who_is_not_an_auditor_gets_403(reader_api):
    response = reader_api.get(CHANGES)

    assert response.status_code == 403
    assert response.json() == {"detail": "The audit trail is for auditors."}


def test_an_auditor_reads_the_trail_newest_first(auditor_api, trail):
    changes = results(auditor_api.get(CHANGES))

    assert [(c["action"], c["object_repr"]) for c in changes][:3] == [
        ("create", "crm"), ("create", "/abc_corp2/lookalike"), ("create", "/abc_corp2")]
    update = next(c for c in changes if c["action"] == "update")
    assert update["user"] == "bob"
    assert update["object_type"] == "catalog.catalogmodel"
    assert update["object_id"] == str(trail.pk)
    assert update["namespace"] == "/abc_corp/claim"
    assert update["before"]["owner"] == "" and update["after"]["owner"] == "bob@example.com"
    assert update["time"].endswith("Z")


def test_a_superuser_reads_the_trail(admin_api, trail):
    assert results(admin_api.get(CHANGES))


def test_secrets_are_masked(auditor_api, trail):
    response = auditor_api.get(CHANGES, {"object_type": "datasource"})

    assert "hunter2" not in response.content.decode()
    assert results(response)[0]["after"]["connection"] == {"password": "********"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_trail_cannot_be_written_through_the_api(auditor_api, admin_api, trail, method):
    change = ObjectChange.objects.first()
    count = ObjectChange.objects.count()

    for client in (auditor_api, admin_api):
        target = CHANGES if method == "post" else f"{CHANGES}{change.pk}/"
        assert getattr(client, method)(target, {"action": "delete"},
                                       format="json").status_code == 405

    assert ObjectChange.objects.count() == count
    assert ObjectChange.objects.get(pk=change.pk).action == change.action


def test_one_change_by_id(auditor_api, trail):
    change = ObjectChange.objects.first()

    response = auditor_api.get(f"{CHANGES}{change.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == change.pk


@pytest.mark.parametrize(("filters", "expected"), [
    ({"user": "alice"}, {"/abc_corp", "/abc_corp/claim", "/abc_corp/claim/triage"}),
    ({"action": "update"}, {"/abc_corp/claim/triage"}),
    ({"object_type": "catalog.catalogmodel"}, {"/abc_corp/claim/triage",
                                               "/abc_corp2/lookalike"}),
    ({"object_type": "CatalogModel"}, {"/abc_corp/claim/triage", "/abc_corp2/lookalike"}),
    ({"object_type": "datasource"}, {"crm"}),
    ({"namespace": "/abc_corp"}, {"/abc_corp", "/abc_corp/claim", "/abc_corp/claim/triage"}),
    ({"namespace": "/abc_corp/claim"}, {"/abc_corp/claim", "/abc_corp/claim/triage"}),
    ({"principal": "arn:aws:iam::1:user/alice"}, {"/abc_corp", "/abc_corp/claim",
                                                  "/abc_corp/claim/triage"}),
])
def test_filters(auditor_api, trail, filters, expected):
    assert {c["object_repr"] for c in results(auditor_api.get(CHANGES, filters))} == expected


def test_filter_by_object_id_and_type(auditor_api, trail):
    changes = results(auditor_api.get(CHANGES, {"object_type": "catalogmodel",
                                                "object_id": trail.pk}))

    assert [c["action"] for c in changes] == ["update", "create"]


def test_filter_by_request_id_gives_what_one_request_changed(auditor_api, trail):
    request_id = ObjectChange.objects.get(object_repr="crm").request_id

    changes = results(auditor_api.get(CHANGES, {"request_id": str(request_id)}))

    assert {c["object_repr"] for c in changes} == {
        "/abc_corp/claim/triage", "/abc_corp2/lookalike", "/abc_corp2", "crm"}


def test_since_and_until_take_dates_or_times(auditor_api, trail):
    day = ObjectChange.objects.get(object_repr="crm").time.date()
    tomorrow = (day + datetime.timedelta(days=1)).isoformat()
    yesterday = (day - datetime.timedelta(days=1)).isoformat()
    total = ObjectChange.objects.count()

    def count(**filters):
        return auditor_api.get(CHANGES, filters).json()["count"]

    assert count(since=day.isoformat(), until=day.isoformat()) == total
    assert count(since=tomorrow) == 0
    assert count(until=yesterday) == 0
    assert count(since=f"{day.isoformat()}T00:00:00Z") == total
    assert count(until=f"{yesterday}T23:59:59.999Z") == 0


@pytest.mark.parametrize(("filters", "message"), [
    ({"action": "erase"}, "one of: create, update, delete"),
    ({"object_type": "user"}, "one of: catalog.catalogmodel"),
    ({"since": "last tuesday"}, "Give a date (2024-01-31)"),
    ({"until": "2024-13-01"}, "Give a date (2024-01-31)"),
    ({"request_id": "not-a-uuid"}, "UUID"),
])
def test_a_bad_filter_gets_a_400_naming_it(auditor_api, trail, filters, message):
    response = auditor_api.get(CHANGES, filters)

    assert response.status_code == 400
    [field] = filters
    assert message in response.json()[field][0]


def test_the_list_costs_the_same_for_any_page_size(auditor_api, trail,
                                                   django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as small:
        assert len(results(auditor_api.get(CHANGES, {"page_size": 2}))) == 2
    for index in range(20):
        save_catalog_model(namespace=f"/bulk/n{index}", model_name="m")

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(results(auditor_api.get(CHANGES, {"page_size": 100}))) > 40
