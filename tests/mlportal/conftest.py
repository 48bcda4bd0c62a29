"""Catalog, registry and deployments as the pages' tests see them."""

import datetime

import pytest

from catalog.models import DataSource
from catalog.services import save_catalog_model, save_catalog_source, save_data_source
from deployments.services import change_status, record_deployment
from mlportal import audit
from mlportal.services import save_subscription
from registry.models import Alias, Artifact, ModelTag, ModelVersion

WEBHOOK_SECRET = "planted-webhook-secret"
PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"


def day(month, number):
    return datetime.datetime(2023, month, number, tzinfo=datetime.UTC)


@pytest.fixture
def catalog(example, superuser):
    with audit.change_context(user=superuser, source="api"):
        doc = save_catalog_model(**example("catalog_model"))
        save_data_source(instance=DataSource.objects.get(name="claim history datawarehouse"),
                         connection={"account": "abc", "password": "planted-secret"})
        fraud = save_catalog_model(
            namespace="/abc_corp/claim", model_name="fraud_scoring", owner="bob@example.com",
            description="Scores claims for fraud",
            data_sources=[{"name": "claim history datawarehouse"},
                          {"name": "policy events", "type": "kafka"}])
        save_catalog_model(namespace="/xyz_bank/cards", model_name="churn.v2",
                           owner="carol@example.com", description="Who will not renew",
                           data_sources=[{"name": "crm", "type": "postgres"}])
        for number in (1, 2):
            ModelVersion.objects.create(catalog_model=doc, model_version=number,
                                        description=f"retrained {number}",
                                        created_by="arn:aws:iam::123456789012:user/alice")
        ModelVersion.objects.create(catalog_model=fraud, model_version=1,
                                    description="first gradient boosting", status="deprecated")
    return doc


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def deployed(catalog, superuser):
    """doc_classification: v1 then v2 at PROD (v3 beside it as a 10% canary), v2 at STAGING
    (retired); fraud_scoring v1 at its own endpoint on Lambda."""
    versions = {v.model_version: v for v in catalog.versions.all()}
    with audit.change_context(user=superuser, source="api"):
        versions[3] = ModelVersion.objects.create(catalog_model=catalog, model_version=3)
        Artifact.objects.create(version=versions[2], name="trained",
                                uri="s3://abc_corp/claim/doc_classification/trained/2.tar.gz")
        record_deployment(model_version=versions[1], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="blue_green",
                          create_at=day(1, 15))
        record_deployment(model_version=versions[2], endpoint=STAGING, environment="staging",
                          deployment_method="eks", rolling_strategy="rolling",
                          create_at=day(2, 1))
        record_deployment(model_version=versions[2], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="blue_green",
                          create_at=day(3, 1))
        record_deployment(model_version=versions[3], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="canary",
                          traffic_percent=10, create_at=day(6, 1))
        staging = catalog.deployments.get(endpoint=STAGING)
        change_status(deployment=staging, status="retired", at=day(4, 1))
        fraud = ModelVersion.objects.get(catalog_model__model_name="fraud_scoring")
        record_deployment(model_version=fraud, endpoint="https://fraud.example.com/score",
                          environment="prod", deployment_method="lambda",
                          rolling_strategy="rolling", create_at=day(5, 1))
    return catalog


@pytest.fixture
def world(deployed, superuser, grant):
    """Everything the API serves, so that every route with an id finds its row."""
    version = ModelVersion.objects.get(catalog_model=deployed, model_version=2)
    alias = Alias.objects.create(catalog_model=deployed, version=version, name="champion")
    tag = ModelTag.objects.create(catalog_model=deployed, key="team", value="claims")
    subscription = save_subscription(url="https://hooks.example.com/portal", user=superuser)
    given = grant(superuser, "/abc_corp/claim")
    source = save_catalog_source(repository="/nonexistent/cards", ref="main",
                                 webhook_secret=WEBHOOK_SECRET)
    ids = {
        "namespaces": deployed.namespace.pk, "models": deployed.pk,
        "data-sources": deployed.data_sources.first().pk, "versions": version.pk,
        "deployments": deployed.deployments.first().pk, "aliases": alias.pk,
        "grants": given.pk, "catalog-sources": source.pk, "model-tags": tag.pk,
        "webhooks": subscription.pk,
    }
    return {"ids": ids, "version": version, "source": source}
