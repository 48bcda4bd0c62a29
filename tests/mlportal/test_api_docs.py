"""The API explains itself: a root listing the resources, and an OpenAPI document with a tag
and summary per operation, the user's documents as examples, what {id} is, and the errors."""

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_resource_with_its_url(admin_api):
    response = admin_api.get("/api/v1/")

    assert response.status_code == 200
    resources = {row["name"]: row for row in response.json()["resources"]}
    assert {"models", "versions", "deployments", "aliases", "namespaces", "data-sources",
            "changes", "grants", "tokens"} <= set(resources)
    assert resources["deployments"]["url"] == "http://testserver/api/v1/deployments/"
    assert "Which version runs at which endpoint" in resources["deployments"]["description"]
    assert response.json()["docs"] == "http://testserver/api/docs/"
    for row in resources.values():
        assert admin_api.get(row["url"]).status_code == 200, row


def test_the_api_root_is_for_signed_in_clients(api, reader_api):
    assert api.get("/api/v1/").status_code == 401
    assert reader_api.get("/api/v1/").status_code == 200


@pytest.fixture
def openapi(admin_client):
    return yaml.safe_load(admin_client.get("/api/schema/").content)


def test_operations_are_tagged_by_resource_and_summarised(openapi):
    operations = [(path, method, op) for path, ops in openapi["paths"].items()
                  for method, op in ops.items() if path.startswith("/api/v1/")]
    assert all(op.get("summary") for _, _, op in operations), [
        (path, method) for path, method, op in operations if not op.get("summary")]
    deployments = openapi["paths"]["/api/v1/deployments/"]
    assert deployments["get"]["tags"] == ["deployments"]
    assert deployments["post"]["summary"] == (
        "Record a deployment (the server gives it the next number)")
    tags = {tag["name"]: tag["description"] for tag in openapi["tags"]}
    assert "v1" not in tags and tags["versions"].startswith("Trained versions")


def test_examples_are_the_users_documents(openapi, example):
    body = openapi["paths"]["/api/v1/deployments/"]["post"]["requestBody"]["content"][
        "application/json"]
    assert body["examples"]["document"]["value"] == example("deployment")
    answer = openapi["paths"]["/api/v1/models/{id}/"]["get"]["responses"]["200"]["content"][
        "application/json"]["examples"]["document"]["value"]
    assert answer["model_name"] == "doc_classification" and answer["id"] == 1


def test_id_is_explained_as_not_the_deployment_number(openapi):
    parameters = openapi["paths"]["/api/v1/deployments/{id}/"]["get"]["parameters"]
    described = next(p for p in parameters if p["name"] == "id")["description"]
    assert "not a deployment's `deployment_id`" in described
    assert "deployment_id=1" in described


def test_error_answers_are_documented(openapi):
    create = openapi["paths"]["/api/v1/versions/"]["post"]["responses"]
    assert {"400", "401", "403", "409"} <= set(create)
    assert create["400"]["content"]["application/json"]["schema"]["additionalProperties"]
    detail = openapi["paths"]["/api/v1/versions/{id}/"]["get"]["responses"]
    assert detail["404"]["content"]["application/json"]["examples"]["error"]["value"] == {
        "detail": "Not found."}
