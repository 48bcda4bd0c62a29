"""A deprecated version that still serves an endpoint or that an alias names is flagged in
its API document (`serving`, `warnings`); the document's other fields are unchanged."""

import pytest

from deployments.services import record_deployment
from registry import services

pytestmark = pytest.mark.django_db

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"


@pytest.fixture
def version(catalog_model):
    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
    record_deployment(model_version=version, endpoint=PROD, deployment_method="ecs",
                      rolling_strategy="blue_green")
    return version


def test_a_version_in_use_reads_back_where_it_serves_without_warnings(admin_api, version):
    document = admin_api.get(f"/api/v1/versions/{version.pk}/").json()

    assert document["serving"] == [PROD]
    assert document["warnings"] == []


def test_deprecating_a_serving_aliased_version_flags_it(admin_api, version):
    services.set_alias(version=version, name="champion")

    response = admin_api.post(f"/api/v1/versions/{version.pk}/deprecate/")

    assert response.status_code == 200
    document = admin_api.get(f"/api/v1/versions/{version.pk}/").json()
    assert document["status"] == "deprecated"
    assert document["warnings"] == [
        f"doc_classification v1 is deprecated but still serves {PROD}.",
        "doc_classification v1 is deprecated but the alias champion still points at it.",
    ]
    listed = admin_api.get("/api/v1/versions/?status=deprecated").json()["results"]
    assert listed[0]["warnings"] == document["warnings"]


def test_a_deprecated_version_nothing_uses_has_no_warnings(admin_api, catalog_model):
    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
    services.deprecate_version(version=version)

    document = admin_api.get(f"/api/v1/versions/{version.pk}/").json()

    assert document["serving"] == [] and document["warnings"] == []


def test_anonymous_readers_get_no_document(api, version):
    assert api.get(f"/api/v1/versions/{version.pk}/").status_code == 401
