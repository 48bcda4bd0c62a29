"""Liveness, readiness, metrics, request ids and the API's index."""

import uuid

import pytest
from django.db import connection, connections
from django.db.utils import OperationalError

from catalog.services import save_catalog_model
from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db


def test_liveness_answers_anyone_without_a_session(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response["Cache-Control"] == "no-store"


def test_liveness_and_readiness_only_read(client):
    assert client.post("/healthz").status_code == 405
    assert client.put("/readyz").status_code == 405


def test_readiness_checks_the_database(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readiness_is_503_naming_no_detail_when_the_database_fails(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server at 10.0.0.5: secret-host")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
    assert b"secret-host" not in response.content


def test_metrics_are_served_to_the_allowed_networks_only(client, settings):
    client.get("/healthz")
    local = client.get("/metrics")
    outside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    settings.MLPORTAL_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    allowed = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert local.status_code == 200
    assert outside.status_code == 404
    assert allowed.status_code == 200
    text = allowed.content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method" in text


def test_metrics_count_requests_by_view_and_status_and_time_queries(admin_api, client):
    admin_api.get("/api/v1/versions/")
    admin_api.get("/api/v1/versions/123456789/")
    text = client.get("/metrics").content.decode()

    assert 'view="modelversion-list"' in text
    assert 'django_http_responses_total_by_status_view_method_total{method="GET",status="404",' \
        'view="modelversion-detail"}' in text
    if connection.vendor == "postgresql":  # the database's timing: on PostgreSQL
        assert "django_db_execute_total" in text
        assert "django_db_query_duration_seconds" in text


def test_metrics_can_be_turned_off(client, settings):
    settings.MLPORTAL_METRICS = False
    assert client.get("/metrics").status_code == 404


def test_every_answer_has_a_request_id_which_the_audit_trail_keeps(admin_api, example):
    response = admin_api.post("/api/v1/models/", example("catalog_model"), format="json")

    request_id = uuid.UUID(response["X-Request-ID"])
    assert ObjectChange.objects.filter(request_id=request_id).exists()


def test_a_clients_request_id_is_ignored_unless_trusted(admin_api, settings):
    given = str(uuid.uuid4())

    ignored = admin_api.get("/api/v1/", HTTP_X_REQUEST_ID=given)
    settings.MLPORTAL_TRUST_REQUEST_ID = True
    taken = admin_api.get("/api/v1/", HTTP_X_REQUEST_ID=given)
    not_a_uuid = admin_api.get("/api/v1/", HTTP_X_REQUEST_ID="drop table")

    assert ignored["X-Request-ID"] != given
    assert taken["X-Request-ID"] == given
    assert uuid.UUID(not_a_uuid["X-Request-ID"])


def test_a_trusted_request_id_is_the_audit_trails(admin_api, settings):
    settings.MLPORTAL_TRUST_REQUEST_ID = True
    given = uuid.uuid4()

    admin_api.post("/api/v1/namespaces/", {"path": "/traced"}, format="json",
                   HTTP_X_REQUEST_ID=str(given))

    assert ObjectChange.objects.get(request_id=given).object_repr == "/traced"


class TestApiRoot:
    def test_anonymous_gets_401(self, api):
        assert api.get("/api/v1/").status_code == 401

    def test_a_signed_in_user_gets_the_index(self, reader_api, django_assert_max_num_queries):
        reader_api.get("/api/v1/")  # the token's first use is recorded
        with django_assert_max_num_queries(1):
            response = reader_api.get("/api/v1/")

        assert response.status_code == 200
        urls = {resource["name"]: resource["url"] for resource in response.json()["resources"]}
        assert urls["versions"].endswith("/api/v1/versions/")

    def test_it_only_reads(self, reader_api):
        assert reader_api.post("/api/v1/", {}, format="json").status_code == 405

    def test_a_bad_token_is_401(self, api):
        api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
        assert api.get("/api/v1/").status_code == 401


def test_the_api_index_lists_resources_that_exist(admin_api):
    save_catalog_model(namespace="/a", model_name="m")
    for resource in admin_api.get("/api/v1/").json()["resources"]:
        assert admin_api.get(resource["url"]).status_code == 200, resource


def test_documents_carry_an_etag_that_answers_304_until_they_change(admin_api, catalog):
    url = "/api/v1/models/?namespace=/abc_corp/claim&model_name=fraud_scoring"
    first = admin_api.get(url)
    etag = first["ETag"]

    unchanged = admin_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    model_id = first.json()["results"][0]["id"]
    assert admin_api.patch(f"/api/v1/models/{model_id}/", {"description": "New"},
                           format="json").status_code == 200
    changed = admin_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["results"][0]["description"] == "New"
