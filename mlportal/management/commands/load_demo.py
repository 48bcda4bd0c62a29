"""Demo data for `make demo`: the user's example documents and a few more models.

Idempotent: run it again and it leaves what exists, then resets the demo admin's password.
"""

import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from mlportal import access
from mlportal.audit import change_context
from mlportal.choices import Role
from mlportal.models import Grant
from mlportal.services import save_grant

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
            self.demo_access()
            password = secrets.token_urlsafe(12)
            user, _ = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        self.stdout.write(f"Demo data: {created} catalog models created; accounts "
                          f"{', '.join(DEMO_ACCOUNTS)} (no password until set in the admin).")
        self.stdout.write(self.style.SUCCESS(
            f"Sign in at http://127.0.0.1:8000/admin/ as {username} / {password}"
        ))
