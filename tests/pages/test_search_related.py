"""Search reaches every kind through its related names (namespace, model, alias, tag,
endpoint, method, environment, data source) and says what matched."""

import datetime

import pytest

from catalog.services import save_catalog_model
from deployments.services import record_deployment
from registry import services as registry

pytestmark = pytest.mark.django_db

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
SCORE = "https://fraud.abc.corp.com/score"


@pytest.fixture
def deployed(example):
    save_catalog_model(**example("catalog_model"))
    save_catalog_model(namespace="/xyz_bank/cards", model_name="churn",
                       data_sources=[{"name": "card ledger"}])
    doc = registry.register_version(namespace="/abc_corp/claim", model_name="doc_classification",
                                    tags={"framework": "sklearn"})
    churn = registry.register_version(namespace="/xyz_bank/cards", model_name="churn")
    registry.set_alias(version=doc, name="champion")
    record_deployment(model_version=doc, endpoint=PROD, environment="prod",
                      deployment_method="ecs", rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC))
    record_deployment(model_version=churn, endpoint=SCORE, environment="staging",
                      deployment_method="sagemaker", rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 3, tzinfo=datetime.UTC))


def counts(client, q):
    response = client.get("/search/", {"q": q})
    assert response.status_code == 200
    return {group["kind"].key: group["count"] for group in response.context["groups"]}, response


@pytest.mark.parametrize("q", ["claim", "/abc_corp/claim"])
def test_a_namespace_finds_its_versions_deployments_and_endpoints(reader_client, deployed, q):
    found, page = counts(reader_client, q)

    assert found["models"] == 1 and found["versions"] == 1
    assert found["deployments"] == 1 and found["endpoints"] == 1
    assert "namespace <mark>/abc_corp/claim</mark>" in page.content.decode()


def test_an_alias_finds_its_version_and_where_it_runs(reader_client, deployed):
    found, page = counts(reader_client, "champion")

    assert found["versions"] == 1 and found["deployments"] == 1
    html = " ".join(page.content.decode().split())
    assert 'matched <span class="why">alias <mark>champion</mark></span>' in html


def test_a_method_finds_its_deployments(reader_client, deployed):
    found, page = counts(reader_client, "sagemaker")

    assert found["deployments"] == 1 and found["endpoints"] == 1
    assert "<mark>AWS SageMaker</mark>" in page.content.decode()


def test_a_tag_finds_its_version(reader_client, deployed):
    found, page = counts(reader_client, "sklearn")
    assert found["versions"] == 1
    assert "<mark>framework=sklearn</mark>" in page.content.decode()


def test_a_data_source_finds_the_models_it_feeds_and_their_deployments(reader_client, deployed):
    found, page = counts(reader_client, "card ledger")

    assert found["models"] == 1 and found["versions"] == 1 and found["deployments"] == 1
    assert "<mark>card ledger</mark>" in page.content.decode()


def test_an_environment_finds_its_deployments(reader_client, deployed):
    found, _ = counts(reader_client, "staging")
    assert found["deployments"] == 1


def test_unrelated_words_find_nothing(reader_client, deployed):
    found, _ = counts(reader_client, "nothing-like-this")
    assert not any(found.values())


def test_search_has_a_heading_and_a_skip_link(reader_client, deployed):
    html = reader_client.get("/search/", {"q": "claim"}).content.decode()
    assert "<h1" in html and 'href="#main"' in html
