"""Fields a card in Git sets are read-only in the API and the admin; the others stay editable."""

import pytest
from django.urls import reverse

from catalog.models import CatalogModel
from catalog.sync import sync_catalog

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"

CARD = """
---
namespace: /abc_corp/claim
model_name: fraud_scoring
owner: bob@example.com
data_sources:
  - name: claim history datawarehouse
inference:
  input:
    schema: {type: object}
---
# Fraud scoring

Reviewed by the risk team.
"""


@pytest.fixture
def fraud(repo):
    repo.write("cards/fraud.md", CARD)
    repo.commit()
    sync_catalog(repository=str(repo.path))
    return CatalogModel.objects.get(model_name="fraud_scoring")


def test_the_api_document_says_where_the_card_is(admin_api, fraud, repo):
    document = admin_api.get(f"{MODELS}{fraud.pk}/").json()

    assert document["source"] == {
        "repository": str(repo.path), "path": "cards/fraud.md",
        "commit": repo.git("rev-parse", "HEAD"), "in_git": True,
        "managed_fields": ["namespace", "model_name", "owner", "data_sources",
                           "inference.input.schema"],
    }
    assert document["model_card"] == "# Fraud scoring\n\nReviewed by the risk team."


def test_a_model_never_in_git_has_no_source(admin_api, example):
    document = admin_api.post(MODELS, example("catalog_model"), format="json").json()

    assert document["source"] is None
    assert document["model_card"] == ""


@pytest.mark.parametrize(("change", "field", "named"), [
    ({"owner": "mallory@example.com"}, "owner", "owner"),
    ({"model_name": "renamed"}, "model_name", "model_name"),
    ({"data_sources": [{"name": "another"}]}, "data_sources", "data_sources"),
    ({"inference": {"input": {"schema": {"type": "array"}}}}, "inference",
     "inference.input.schema"),
])
def test_an_api_edit_of_a_field_set_in_git_is_refused_naming_the_file(
        admin_api, fraud, repo, change, field, named):
    response = admin_api.patch(f"{MODELS}{fraud.pk}/", change, format="json")

    assert response.status_code == 400
    assert response.json()[field] == [
        f"{named} is managed in Git: change it in cards/fraud.md ({repo.path})."]
    fraud.refresh_from_db()
    assert fraud.owner == "bob@example.com" and fraud.model_name == "fraud_scoring"
    assert [source.name for source in fraud.data_sources.all()] == [
        "claim history datawarehouse"]


def test_fields_the_card_does_not_set_stay_editable(admin_api, fraud):
    response = admin_api.patch(f"{MODELS}{fraud.pk}/", {
        "description": "Scores claims.", "url": "https://git.example.com/fraud",
        "inference": {"input": {"description": "A claim"}, "output": {"schema": {}}},
    }, format="json")

    assert response.status_code == 200, response.json()
    fraud.refresh_from_db()
    assert fraud.description == "Scores claims."
    assert fraud.inference_input_description == "A claim"


def test_the_document_read_and_sent_back_with_an_editable_change_is_accepted(admin_api, fraud):
    document = admin_api.get(f"{MODELS}{fraud.pk}/").json()
    document["url"] = "https://git.example.com/fraud"

    response = admin_api.put(f"{MODELS}{fraud.pk}/", document, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["url"] == "https://git.example.com/fraud"


def test_once_the_card_is_removed_every_field_is_editable_again(admin_api, fraud, repo):
    repo.remove("cards/fraud.md")
    repo.commit()
    sync_catalog(repository=str(repo.path))

    response = admin_api.patch(f"{MODELS}{fraud.pk}/", {"owner": "carol@example.com"},
                               format="json")

    assert response.status_code == 200
    assert response.json()["source"]["in_git"] is False


def test_the_admin_shows_fields_set_in_git_read_only(admin_client, fraud):
    page = admin_client.get(reverse("admin:catalog_catalogmodel_change", args=[fraud.pk]))

    form = page.context["adminform"].form
    assert "owner" not in form.fields and "model_name" not in form.fields
    assert "inference_input_schema" not in form.fields
    assert "description" in form.fields and "url" in form.fields
    content = page.content.decode()
    assert "In Git: the fields this card sets are read-only here" in content
    assert "cards/fraud.md" in content
    assert "<h1>Fraud scoring</h1>" in content  # the model card, rendered
    inline = page.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_an_admin_post_cannot_change_a_field_set_in_git(admin_client, fraud):
    url = reverse("admin:catalog_catalogmodel_change", args=[fraud.pk])

    response = admin_client.post(url, {
        "namespace": fraud.namespace_id, "model_name": "renamed", "owner": "mallory@example.com",
        "url": "https://git.example.com/fraud", "description": "Scores claims.",
        "inference_input_description": "", "inference_input_schema": '{"type": "array"}',
        "inference_output_description": "", "inference_output_schema": "{}",
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    })

    assert response.status_code == 302
    fraud.refresh_from_db()
    assert (fraud.model_name, fraud.owner) == ("fraud_scoring", "bob@example.com")
    assert fraud.inference_input_schema == {"type": "object"}
    assert fraud.description == "Scores claims."
    assert fraud.url == "https://git.example.com/fraud"
    assert fraud.data_sources.count() == 1


def test_the_admin_list_shows_models_no_longer_in_git(admin_client, fraud, repo):
    repo.remove("cards/fraud.md")
    repo.commit()
    sync_catalog(repository=str(repo.path))
    changelist = reverse("admin:catalog_catalogmodel_changelist")

    page = admin_client.get(changelist)
    assert "no longer in Git" in page.content.decode()
    assert page.context["cl"].result_count == 1
    assert admin_client.get(changelist + "?git=gone").context["cl"].result_count == 1
    assert admin_client.get(changelist + "?git=in").context["cl"].result_count == 0
    change = admin_client.get(reverse("admin:catalog_catalogmodel_change", args=[fraud.pk]))
    assert "No longer in Git: the card was removed" in change.content.decode()
    assert "owner" in change.context["adminform"].form.fields


def test_the_api_filters_models_by_whether_their_card_is_in_git(admin_api, fraud):
    created = admin_api.post(MODELS, {"namespace": "/abc", "model_name": "doc_classification"},
                             format="json")
    assert created.status_code == 201

    in_git = admin_api.get(MODELS + "?in_git=true").json()["results"]
    not_in_git = admin_api.get(MODELS + "?in_git=false").json()["results"]

    assert [model["model_name"] for model in in_git] == ["fraud_scoring"]
    assert [model["model_name"] for model in not_in_git] == ["doc_classification"]
