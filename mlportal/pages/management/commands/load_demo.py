"""Demo data for `make demo`: the user's example documents and a few more models.

Idempotent: run it again and it leaves what exists, then resets the demo admin's password.
"""

import io
import json
import secrets
import tarfile

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.dateparse import parse_datetime

from catalog.models import CatalogModel
from catalog.services import save_catalog_model, save_grant
from deployments import services as deployment_services
from deployments.models import Deployment
from mlportal import access
from mlportal.choices import Role
from mlportal.context import change_context
from mlportal.models import Grant
from registry import services as registry
from registry.models import Artifact, ModelVersion

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

PIPELINE = "arn:aws:iam::123456789012:role/training-pipeline"
CLAIM_MODEL = {"namespace": "/abc_corp/claim", "model_name": "doc_classification"}
# Version 1 of doc_classification is the user's example document (examples/model_version.json);
# version 3 is registered before the example deployment runs it (2023-01-15).
MORE_VERSIONS = [
    {**CLAIM_MODEL, "model_version": 2, "create_at": "2023-01-05T00:00:00.000Z",
     "description": "Retrained on the claims of 2022 Q4.", "created_by": PIPELINE,
     "artifacts": [
         {"name": "trained", "uri": "s3://abc_corp/claim/doc_classification/trained/2.tar.gz"},
         {"name": "static_data",
          "uri": "s3://abc_corp/claim/doc_classification/static_data/2.tar.gz"}],
     "tags": {"framework": "sklearn", "dataset": "claims-2022q4", "accuracy": "0.91"}},
    {**CLAIM_MODEL, "model_version": 3, "create_at": "2023-01-10T00:00:00.000Z",
     "description": "Adds handwritten letters; trained artifact uploaded through the portal.",
     "created_by": PIPELINE, "tags": {"framework": "sklearn", "dataset": "claims-2023q1",
                                     "accuracy": "0.934"}},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 1,
     "create_at": "2023-02-01T00:00:00.000Z", "description": "First gradient-boosted model.",
     "created_by": PIPELINE, "tags": {"framework": "xgboost"},
     "artifacts": [{"name": "trained", "uri": "gs://abc-models/fraud_scoring/1/model.json"}]},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 2,
     "create_at": "2023-05-01T00:00:00.000Z", "description": "Adds policy events.",
     "created_by": PIPELINE, "tags": {"framework": "xgboost"},
     "artifacts": [{"name": "trained", "uri": "gs://abc-models/fraud_scoring/2/model.json"}]},
    {"namespace": "/abc_corp/underwriting", "model_name": "risk_pricing", "model_version": 1,
     "create_at": "2023-04-15T00:00:00.000Z", "description": "GLM baseline.",
     "created_by": "carol@example.com",
     "artifacts": [{"name": "trained", "uri": "https://models.abc.corp.com/risk_pricing/1.onnx"}]},
]
ALIASES = [(CLAIM_MODEL, 3, "champion"), (CLAIM_MODEL, 2, "challenger"),
           ({"namespace": "/abc_corp/claim", "model_name": "fraud_scoring"}, 2, "champion")]
DEPRECATED = [({"namespace": "/abc_corp/claim", "model_name": "fraud_scoring"}, 1)]
# Uploaded (not linked) after the rest is committed: uploads run outside transactions.
UPLOADS = [(CLAIM_MODEL, 3, "trained", "model.tar.gz")]


def demo_archive():
    """A small tar.gz standing in for a trained model."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        readme = b"doc_classification v3: a stand-in for the trained model.\n"
        info = tarfile.TarInfo("README.txt")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    buffer.seek(0)
    return buffer


def load_versions():
    created = 0
    documents = [json.loads((EXAMPLES / "model_version.json").read_text()), *MORE_VERSIONS]
    for document in documents:
        exists = ModelVersion.objects.filter(
            catalog_model__namespace__path=document["namespace"],
            catalog_model__model_name=document["model_name"],
            model_version=document["model_version"],
        ).exists()
        if not exists:
            registry.register_version(
                **document | {"create_at": parse_datetime(document["create_at"])})
            created += 1
    for model, number, alias in ALIASES:
        version = registry.find_version(**model, model_version=number)
        if not version.aliases.filter(name=alias).exists():
            registry.set_alias(version=version, name=alias)
    for model, number in DEPRECATED:
        registry.deprecate_version(version=registry.find_version(**model, model_version=number))
    return created


STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"
FRAUD_ENDPOINT = "https://fraud.abc.corp.com/score"
# Besides the example document (deployment 1 of doc_classification): a staging endpoint
# where a rolling deployment replaced another and was then rolled back, and a canary beside
# a blue-green rollout. Each follows the registration of its version (MORE_VERSIONS).
MORE_DEPLOYMENTS = [
    {"namespace": "/abc_corp/claim", "model_name": "doc_classification", "model_version": 2,
     "deployment_id": 2, "create_at": "2023-01-20T00:00:00Z", "endpoint": STAGING,
     "environment": "staging", "deployment_method": "eks", "rolling_strategy": "rolling",
     "environment_variables": [{"name": "LOG_LEVEL", "value": "debug"},
                               {"name": "DB_PASSWORD", "value": "demo", "secret": True}]},
    {"namespace": "/abc_corp/claim", "model_name": "doc_classification", "model_version": 3,
     "deployment_id": 3, "create_at": "2023-02-01T00:00:00Z", "endpoint": STAGING,
     "environment": "staging", "deployment_method": "eks", "rolling_strategy": "rolling",
     "environment_variables": [{"name": "LOG_LEVEL", "value": "info"},
                               {"name": "DB_PASSWORD", "value": "demo", "secret": True}]},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 1,
     "deployment_id": 1, "create_at": "2023-02-02T00:00:00Z", "endpoint": FRAUD_ENDPOINT,
     "environment": "prod", "deployment_method": "lambda", "rolling_strategy": "blue_green",
     "environment_variables": [{"name": "THRESHOLD", "value": "0.8"}]},
    {"namespace": "/abc_corp/claim", "model_name": "fraud_scoring", "model_version": 2,
     "deployment_id": 2, "create_at": "2023-05-02T00:00:00Z", "endpoint": FRAUD_ENDPOINT,
     "environment": "prod", "deployment_method": "lambda", "rolling_strategy": "canary",
     "traffic_percent": 10, "environment_variables": [{"name": "THRESHOLD", "value": "0.75"}]},
]


def load_deployments():
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
            model_version=registry.find_version(**address), **document
        )
        created += 1
    # Staging went back to version 2: deployment 3 rolled back, once.
    staging = Deployment.objects.filter(endpoint=STAGING, deployment_id=3).first()
    if staging is not None and staging.is_active:
        # Two days after it went out: the timeline shows v3's short run, then v2 again.
        deployment_services.rollback(deployment=staging,
                                     at=parse_datetime("2023-02-03T00:00:00Z"))
        created += 1
    return created


# Accounts showing access control: username -> (groups, {namespace: role}).
DEMO_ACCOUNTS = {
    "carol": ([], {"/abc_corp/underwriting": Role.OWNER}),
    "dave": (["cards-team"], {}),
    "audrey": ([access.AUDITORS_GROUP], {}),
}
GROUP_GRANTS = {"cards-team": {"/xyz_bank/cards": Role.EDITOR}}


class Command(BaseCommand):
    help = "Load demo data and (re)create the demo admin user, printing its credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--site", default="http://127.0.0.1:8000",
                            help="Where the portal will be served, for the sign-in line.")

    def demo_access(self):
        for name, grants in GROUP_GRANTS.items():
            group, _ = Group.objects.get_or_create(name=name)
            for path, role in grants.items():
                if not Grant.objects.filter(namespace__path=path, group=group).exists():
                    save_grant(namespace=path, group=group, role=role)
        for username, (groups, grants) in DEMO_ACCOUNTS.items():
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_unusable_password()
                user.save()
            user.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in groups])
            for path, role in grants.items():
                if not Grant.objects.filter(namespace__path=path, user=user).exists():
                    save_grant(namespace=path, user=user, role=role)

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
            versions = load_versions()
            deployments = load_deployments()
            self.demo_access()
            password = secrets.token_urlsafe(12)
            user, _ = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        with change_context(source="command", principal="load_demo"):
            uploaded = self.upload_artifacts()
        self.stdout.write(f"Demo data: {created} catalog models, {versions} versions, "
                          f"{uploaded} uploaded artifacts and {deployments} deployments "
                          "created; accounts "
                          f"{', '.join(DEMO_ACCOUNTS)} (no password until set in the admin).")
        self.stdout.write(self.style.SUCCESS(
            f"Sign in at {options['site'].rstrip('/')}/admin/ as {username} / {password}"
        ))

    def upload_artifacts(self):
        uploaded = 0
        for model, number, name, filename in UPLOADS:
            version = registry.find_version(**model, model_version=number)
            if Artifact.objects.filter(version=version, name=name).exists():
                continue
            try:
                registry.upload_artifact(version=version, name=name, file=demo_archive(),
                                         filename=filename)
            except registry.ArtifactStoreError as exc:
                self.stderr.write(f"Not uploaded: {version} {name}: {exc}")
                continue
            uploaded += 1
        return uploaded
