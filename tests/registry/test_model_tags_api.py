"""Tags of a catalog model as a whole (MLflow's registered-model tags) in the portal's API."""

import pytest

from catalog.services import save_catalog_model
from mlportal.models import ObjectChange
from registry.models import ModelTag

pytestmark = pytest.mark.django_db


@pytest.fixture
def model():
    return save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification")


def test_setting_a_model_tag_reads_back_and_is_audited(admin_api, model):
    response = admin_api.post("/api/v1/model-tags/", {
        "namespace": "/abc_corp/claim", "model_name": "doc_classification",
        "key": "team", "value": "claims"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {"id": response.json()["id"], "namespace": "/abc_corp/claim",
                               "model_name": "doc_classification", "key": "team",
                               "value": "claims"}
    listed = admin_api.get("/api/v1/model-tags/", {"model_name": "doc_classification"}).json()
    assert [tag["key"] for tag in listed["results"]] == ["team"]
    assert ObjectChange.objects.filter(action="create", object_repr="team=claims").exists()


def test_a_tag_set_twice_is_a_conflict(admin_api, model):
    document = {"namespace": "/abc_corp/claim", "model_name": "doc_classification",
                "key": "team", "value": "claims"}
    admin_api.post("/api/v1/model-tags/", document, format="json")

    assert admin_api.post("/api/v1/model-tags/", document, format="json").status_code == 409


def test_only_the_value_of_a_tag_changes(admin_api, model):
    tag = admin_api.post("/api/v1/model-tags/", {
        "namespace": "/abc_corp/claim", "model_name": "doc_classification",
        "key": "team", "value": "claims"}, format="json").json()

    changed = admin_api.patch(f"/api/v1/model-tags/{tag['id']}/", {"value": "fraud"},
                              format="json")
    rekeyed = admin_api.patch(f"/api/v1/model-tags/{tag['id']}/", {"key": "owner"},
                              format="json")
    assert (changed.status_code, changed.json()["value"]) == (200, "fraud")
    assert rekeyed.status_code == 400 and "key" in rekeyed.json()
    assert ModelTag.objects.get().key == "team"


@pytest.mark.parametrize("document, field", [
    ({"namespace": "/abc_corp/claim", "model_name": "missing", "key": "k"}, "model_name"),
    ({"namespace": "/abc_corp/claim", "model_name": "doc_classification", "key": "bad key"},
     "key"),
    ({"namespace": "nope", "model_name": "doc_classification", "key": "k"}, "namespace"),
])
def test_bad_tags_are_a_400_naming_the_field(admin_api, model, document, field):
    response = admin_api.post("/api/v1/model-tags/", document, format="json")

    assert response.status_code == 400
    assert field in response.json()
