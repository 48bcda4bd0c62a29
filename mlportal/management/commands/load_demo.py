"""Demo data for `make demo`: the user's example documents and a few more models.

Idempotent: run it again and it leaves what exists, then resets the demo admin's password.
"""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.dateparse import parse_datetime

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from deployments import services as deployment_services
from deployments.models import Deployment
from mlportal.audit import change_context
from registry.models import ModelVersion

EXAMPLES = settings.BASE_DIR / "examples"

WAREHOUSE = {"name": "claim history datawarehouse"}
MORE_MODELS = [
    {
        "namespace": "/abc_corp/claim",
        "model_name": "fraud_scoring",
        "description": "Scores each new claim for the likelihood of fraud.",
        "owner": "bob@example.com",
        "url": "https://git.abc.corp.com/claim/fraud_scoring",
        "data_sources": [WAREHOUSE, {"name": "policy events", "type": "kafka",
                                     "owner": "data-platform@example.com"}],
        "inference": {
            "input": {"description": "A claim", "schema": {
                "type": "object", "required": ["claim_id", "amount"],
                "properties": {"claim_id": {"type": "string"},
                               "amount": {"type": "number", "minimum": 0}}}},
            "output": {"description": "Fraud probability", "schema": {
                "type": "object", "properties": {"score": {"type": "number"}}}},
        },
    },
    {
        "namespace": "/abc_corp/underwriting",
        "model_name": "risk_pricing",
        "description": "Prices motor policies from driver and vehicle risk.",
        "owner": "carol@example.com",
        "url": "https://git.abc.corp.com/underwriting/risk_pricing",
        "data_sources": [{"name": "quotes lake", "type": "s3",
                          "connection": {"bucket": "abc-quotes", "secret_access_key": "demo"}}],
    },
    {
        "namespace": "/abc_corp/underwriting",
        "model_name": "churn.v2",
        "description": "Predicts which customers will not renew.",
        "owner": "carol@example.com",
        "data_sources": [{"name": "crm", "type": "postgres",
                          "connection": {"host": "crm.internal", "password": "demo"}}],
    },
    {
        "namespace": "/xyz_bank/cards",
        "model_name": "transaction_anomaly",
        "description": "Flags unusual card transactions in real time.",
        "owner": "dave@example.com",
        "data_sources": [{"name": "card transactions", "type": "kafka"}],
    },
]


STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"
FRAUD_ENDPOINT = "https://fraud.abc.corp.com/score"
# Versions the demo deployments need: (namespace, model_name, number, create_at).
DEMO_VERSIONS = [
    ("/abc_corp/claim", "doc_classification", 2, "2023-01-08T00:00:00Z"),
    ("/abc_corp/claim", "doc_classification", 3, "2023-01-14T00:00:00Z"),
    ("/abc_corp/claim", "fraud_scoring", 1, "2023-01-25T00:00:00Z"),
    ("/abc_corp/claim", "fraud_scoring", 2, "2023-02-20T00:00:00Z"),
]
# Besides the example document (deployment 1 of doc_classification): a staging endpoint
# replaced by a rolling deployment, then rolled back; a canary beside a blue-green rollout.
MORE_DEPLOYMENTS = [
    {"namespace": "/abc_corp/claim", "model_name": "doc_classification", "model_version": 2,
     "deployment_id": 2, "create_at": "2023-01-09T00:00:00Z", "endpoint": STAGING,
     "environment": "staging", "deployment_method": "eks", "rolling_strategy": "rolling",
     "environment_variables": [{"name": "LOG_LEVEL", "value": "debug"},
                               {"name": "DB_PASSWORD", "value": "demo", "secret": True}]},
    {"namespace": "/abc_corp/claim", "model_name": "doc_classification", "model_version": 3,
     "deployment_id": 3, "create_at": "2023-01-14T12:00:00Z", "endpoint": STAGING,
     "environment": "staging", "deployment_method": "eks", "rolling_strategy": "rolling",
     "environment_variables": [{"name": "LOG_LEVEL", "value": "info"},
                               {"name": "DB_PASSWORD", "value": "demo", "secret": True}]},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 1,
     "deployment_id": 1, "create_at": "2023-02-01T00:00:00Z", "endpoint": FRAUD_ENDPOINT,
     "environment": "prod", "deployment_method": "lambda", "rolling_strategy": "blue_green",
     "environment_variables": [{"name": "THRESHOLD", "value": "0.8"}]},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 2,
     "deployment_id": 2, "create_at": "2023-03-01T00:00:00Z", "endpoint": FRAUD_ENDPOINT,
     "environment": "prod", "deployment_method": "lambda", "rolling_strategy": "canary",
     "traffic_percent": 10, "environment_variables": [{"name": "THRESHOLD", "value": "0.75"}]},
]


def ensure_demo_versions():
    """Versions 1 (examples/model_version.json), 2 and 3 of the example model, and two of
    fraud_scoring: what the demo deployments run."""
    example = json.loads((EXAMPLES / "model_version.json").read_text())
    wanted = [(example["namespace"], example["model_name"], example["model_version"],
               example["create_at"], example)] + [(*row, {}) for row in DEMO_VERSIONS]
    created = 0
    for namespace, model_name, number, create_at, document in wanted:
        model = CatalogModel.objects.get(namespace__path=namespace, model_name=model_name)
        _, new = ModelVersion.objects.get_or_create(
            catalog_model=model, model_version=number,
            defaults={"create_at": parse_datetime(create_at),
                      "description": document.get("description", ""),
                      "created_by": document.get("created_by", "load_demo")},
        )
        created += new
    return created


def load_demo_deployments():
    """The example deployment document and a short history around it; returns how many were
    recorded. Each is recorded once, addressed by its model and deployment_id."""
    created = 0
    for document in [json.loads((EXAMPLES / "deployment.json").read_text()), *MORE_DEPLOYMENTS]:
        document = dict(document)
        address = {key: document.pop(key) for key in ("namespace", "model_name", "model_version")}
        if Deployment.objects.filter(
            catalog_model__namespace__path=address["namespace"],
            catalog_model__model_name=address["model_name"],
            deployment_id=document["deployment_id"],
        ).exists():
            continue
        document["create_at"] = parse_datetime(document["create_at"])
        deployment_services.record_deployment(
            model_version=deployment_services.find_version(**address), **document
        )
        created += 1
    # Staging went back to version 2: deployment 3 rolled back, once.
    staging = Deployment.objects.filter(endpoint=STAGING, deployment_id=3).first()
    if staging is not None and staging.is_active:
        deployment_services.rollback(deployment=staging)
        created += 1
    return created


class Command(BaseCommand):
    help = "Load demo data and (re)create the demo admin user, printing its credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        with transaction.atomic(), change_context(source="command", principal="load_demo"):
            created = 0
            for document in [json.loads((EXAMPLES / "catalog_model.json").read_text()),
                             *MORE_MODELS]:
                exists = CatalogModel.objects.filter(
                    namespace__path=document["namespace"], model_name=document["model_name"]
                ).exists()
                if not exists:
                    save_catalog_model(**document)
                    created += 1
            versions = ensure_demo_versions()
            deployments = load_demo_deployments()
            password = secrets.token_urlsafe(12)
            user, _ = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        self.stdout.write(f"Demo data: {created} catalog models, {versions} versions and "
                          f"{deployments} deployments created.")
        self.stdout.write(self.style.SUCCESS(
            f"Sign in at http://127.0.0.1:8000/admin/ as {username} / {password}"
        ))
