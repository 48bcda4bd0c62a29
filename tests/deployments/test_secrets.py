"""A planted secret appears in no response, page or audit record, and not at rest either."""

import pytest
from django.db import connection
from django.urls import reverse

from deployments.models import Deployment, EnvironmentVariable
from mlportal.models import ObjectChange
from tests.helpers import at

pytestmark = pytest.mark.django_db

DEPLOYMENTS = "/api/v1/deployments/"
SECRET = "planted-deployment-secret"
# A credential-looking name, sent without the secret flag.
UNFLAGGED = "planted-unflagged-password"


@pytest.fixture
def document(example):
    document = example("deployment")
    document["environment_variables"] += [
        {"name": "SIGNING_KEY", "value": SECRET, "secret": True},
        {"name": "DB_PASSWORD", "value": UNFLAGGED},
    ]
    return document


def assert_no_secret(response):
    assert SECRET.encode() not in response.content, response.request
    assert UNFLAGGED.encode() not in response.content, response.request


def test_no_api_response_holds_the_secret(admin_api, document, versions, deploy):
    deploy(2, create_at=at("01-09 00:00"), deployment_id=9)
    responses = []
    created = admin_api.post(DEPLOYMENTS, document, format="json")
    assert created.status_code == 201
    url = f"{DEPLOYMENTS}{created.json()['id']}/"
    responses += [created, admin_api.get(url), admin_api.get(DEPLOYMENTS),
                  admin_api.get(DEPLOYMENTS, {"active": "true"}),
                  admin_api.get(DEPLOYMENTS, {"q": SECRET}),
                  admin_api.options(url), admin_api.get("/api/schema/")]
    read = admin_api.get(url).json()
    responses.append(admin_api.put(url, read, format="json"))
    responses.append(admin_api.patch(url, {"environment": "prod"}, format="json"))
    # Errors must not echo what was sent.
    responses.append(admin_api.post(DEPLOYMENTS, document | {"endpoint": "ftp://x"},
                                    format="json"))
    responses.append(admin_api.post(DEPLOYMENTS, document, format="json"))  # 409
    responses.append(admin_api.patch(url, {"environment_variables": [
        {"name": "SIGNING_KEY", "value": SECRET}, {"name": "SIGNING_KEY", "value": SECRET}]},
        format="json"))
    responses.append(admin_api.patch(url, {"environment_variables": [
        {"name": "BAD-NAME", "value": SECRET}]}, format="json"))
    # Rolling back the rollback deploys this one again, copying its secret.
    rolled = admin_api.post(f"{url}rollback/")
    restored = admin_api.post(f"{DEPLOYMENTS}{rolled.json()['id']}/rollback/")
    assert restored.status_code == 201, restored.json()
    responses += [rolled, restored, admin_api.get(f"{DEPLOYMENTS}{restored.json()['id']}/"),
                  admin_api.get(DEPLOYMENTS)]

    for response in responses:
        assert_no_secret(response)
    assert EnvironmentVariable.objects.filter(name="SIGNING_KEY").count() == 2
    assert {v.value for v in EnvironmentVariable.objects.filter(name="SIGNING_KEY")} == {SECRET}


def test_no_admin_page_holds_the_secret(admin_client, admin_api, document, versions):
    deployment_id = admin_api.post(DEPLOYMENTS, document, format="json").json()["id"]
    changelist = reverse("admin:deployments_deployment_changelist")
    pages = [
        changelist, f"{changelist}?q=planted", reverse("admin:deployments_deployment_add"),
        reverse("admin:deployments_deployment_change", args=[deployment_id]),
        reverse("admin:deployments_deployment_history", args=[deployment_id]),
        reverse("admin:mlportal_objectchange_changelist"),
    ]
    pages += [reverse("admin:mlportal_objectchange_change", args=[change.pk])
              for change in ObjectChange.objects.all()]

    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response)


def test_the_audit_trail_masks_the_secret(admin_api, document, versions):
    url = f"{DEPLOYMENTS}{admin_api.post(DEPLOYMENTS, document, format='json').json()['id']}/"
    admin_api.patch(url, {"environment_variables": [
        {"name": "SIGNING_KEY", "value": "rotated-" + SECRET, "secret": True}]}, format="json")

    changes = ObjectChange.objects.filter(content_type__app_label="deployments")
    assert {change.object_repr for change in changes} >= {"SIGNING_KEY", "DB_PASSWORD"}
    for change in changes:
        assert SECRET not in str(change.prechange_data) + str(change.postchange_data)
        assert UNFLAGGED not in str(change.prechange_data) + str(change.postchange_data)
    signing = changes.get(object_repr="SIGNING_KEY", action="create")
    assert signing.postchange_data["value"] == "********"


def test_values_are_encrypted_at_rest(admin_api, document, versions):
    admin_api.post(DEPLOYMENTS, document, format="json")

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {EnvironmentVariable._meta.db_table}")
        stored = [row[0] for row in cursor.fetchall()]

    assert len(stored) == 4
    assert not any(SECRET in value or UNFLAGGED in value or value == "BAR" for value in stored)
    assert Deployment.objects.get().environment_variables.get(name="FOO").value == "BAR"
