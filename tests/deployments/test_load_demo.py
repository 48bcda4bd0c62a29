import io

import pytest
from django.core.management import call_command

from deployments.models import Deployment, EnvironmentVariable, StatusChange

pytestmark = pytest.mark.django_db


def test_the_demo_holds_the_example_deployment_and_loads_once(admin_api, example):
    call_command("load_demo", stdout=io.StringIO())
    counts = (Deployment.objects.count(), EnvironmentVariable.objects.count(),
              StatusChange.objects.count())

    call_command("load_demo", stdout=io.StringIO())

    assert (Deployment.objects.count(), EnvironmentVariable.objects.count(),
            StatusChange.objects.count()) == counts
    document = example("deployment")
    found = admin_api.get("/api/v1/deployments/", {
        "namespace": document["namespace"], "model_name": document["model_name"],
        "deployment_id": document["deployment_id"]}).json()["results"]
    assert [{key: value for key, value in found[0].items() if key in document}] == [document]


def test_the_demo_shows_a_rollback_and_a_canary(admin_api):
    call_command("load_demo", stdout=io.StringIO())

    active = admin_api.get("/api/v1/deployments/", {"active": "true"}).json()["results"]

    assert sorted((d["model_name"], d["model_version"], d["rolling_strategy"],
                   d["traffic_percent"]) for d in active) == [
        ("doc_classification", 2, "rolling", None),
        ("doc_classification", 3, "blue_green", None),
        ("fraud_scoring", 1, "blue_green", None),
        ("fraud_scoring", 2, "canary", 10),
    ]
    assert Deployment.objects.filter(status="rolled_back").count() == 1
