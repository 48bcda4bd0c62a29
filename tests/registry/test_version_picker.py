"""The version picker (the admin's autocomplete for a deployment's version) finds versions by
the labels it shows, by model path, number and alias, and marks deprecated ones."""

import pytest

from catalog.services import save_catalog_model
from registry import services

pytestmark = pytest.mark.django_db

PICKER = ("/admin/autocomplete/?app_label=deployments&model_name=deployment"
          "&field_name=model_version&term=")


@pytest.fixture
def versions():
    for name in ("doc_classification", "fraud_scoring"):
        save_catalog_model(namespace="/abc_corp/claim", model_name=name)
    made = {}
    for name in ("doc_classification", "fraud_scoring"):
        for number in (1, 2, 3):
            made[name, number] = services.register_version(
                namespace="/abc_corp/claim", model_name=name,
                created_by="arn:aws:iam::123456789012:role/training-pipeline")
    services.set_alias(version=made["fraud_scoring", 2], name="champion")
    services.deprecate_version(version=made["doc_classification", 1])
    return made


def picked(client, term):
    response = client.get(PICKER + term)
    assert response.status_code == 200, response.content
    return [row["text"] for row in response.json()["results"]]


def test_the_label_it_shows_finds_the_version(admin_client, versions):
    assert picked(admin_client, "fraud_scoring v2") == [
        "fraud_scoring v2 · /abc_corp/claim · @champion"]
    assert picked(admin_client, "/abc_corp/claim/doc_classification v3") == [
        "doc_classification v3 · /abc_corp/claim"]


def test_a_number_after_the_model_lists_only_that_models_version(admin_client, versions):
    # "2" is in every ARN (123456789012): it must mean the version number, nothing else.
    assert picked(admin_client, "doc_classification 2") == [
        "doc_classification v2 · /abc_corp/claim"]
    assert len(picked(admin_client, "2")) == 2


def test_the_model_path_lists_its_versions(admin_client, versions):
    assert picked(admin_client, "/abc_corp/claim/fraud_scoring") == [
        "fraud_scoring v3 · /abc_corp/claim", "fraud_scoring v2 · /abc_corp/claim · @champion",
        "fraud_scoring v1 · /abc_corp/claim"]


def test_an_alias_picks_its_version(admin_client, versions):
    assert picked(admin_client, "champion") == ["fraud_scoring v2 · /abc_corp/claim · @champion"]
    assert picked(admin_client, "fraud_scoring@champion") == [
        "fraud_scoring v2 · /abc_corp/claim · @champion"]
    assert picked(admin_client, "doc_classification@champion") == []


def test_deprecated_versions_are_marked(admin_client, versions):
    assert picked(admin_client, "doc_classification v1") == [
        "doc_classification v1 · /abc_corp/claim (deprecated)"]


def test_the_versions_list_search_reads_the_same_way(admin_client, versions):
    response = admin_client.get("/admin/registry/modelversion/?q=fraud_scoring+v2")
    assert [str(v) for v in response.context["cl"].result_list] == [
        "/abc_corp/claim/fraud_scoring v2"]


def test_a_user_without_grants_is_offered_nothing_to_deploy(client, make_user, versions):
    client.force_login(make_user("outsider"))
    assert picked(client, "fraud_scoring") == []
