"""An endpoint belongs to the namespace that first recorded a deployment at it: deploying
there from another namespace (recording, rolling back, retiring) needs a grant on the
endpoint's namespace too, in the API and in the admin alike."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.services import save_catalog_model
from deployments import services
from deployments.models import Deployment, Endpoint
from registry.services import register_version
from tests.helpers import ENDPOINT

DEPLOYMENTS = "/api/v1/deployments/"
CARDS = {"namespace": "/xyz_bank/cards", "model_name": "churn"}


@pytest.fixture
def cards_version(db):
    save_catalog_model(owner="carol@example.com", **CARDS)
    return register_version(**CARDS)


@pytest.fixture
def claim_editor(make_user, grant):
    user = make_user("claim")
    grant(user, "/abc_corp/claim")
    return user


@pytest.fixture
def cards_editor(make_user, grant):
    user = make_user("cards")
    grant(user, "/xyz_bank/cards")
    return user


def claim_deployment(example, **fields):
    document = example("deployment") | fields
    del document["deployment_id"], document["create_at"]
    return document


def cards_canary(**fields):
    return {**CARDS, "model_version": 1, "endpoint": ENDPOINT, "deployment_method": "lambda",
            "rolling_strategy": "canary", "traffic_percent": 10, **fields}


@pytest.mark.django_db
def test_an_endpoint_belongs_to_the_namespace_that_first_deployed_there(
        client_for, claim_editor, example, versions):
    response = client_for(claim_editor).post(DEPLOYMENTS, claim_deployment(example),
                                             format="json")

    assert response.status_code == 201, response.json()
    assert Endpoint.objects.get(url=ENDPOINT).namespace.path == "/abc_corp/claim"


@pytest.mark.django_db
def test_an_editor_of_another_namespace_cannot_deploy_at_an_endpoint_it_does_not_own(
        client_for, claim_editor, cards_editor, example, versions, cards_version):
    claim = client_for(claim_editor)
    assert claim.post(DEPLOYMENTS, claim_deployment(example), format="json").status_code == 201

    refused = client_for(cards_editor).post(DEPLOYMENTS, cards_canary(), format="json")

    assert refused.status_code == 403
    assert ENDPOINT in refused.json()["detail"] and "/abc_corp/claim" in refused.json()["detail"]
    assert not Deployment.objects.filter(catalog_model__model_name="churn").exists()
    # The endpoint's team goes on deploying there.
    again = claim.post(DEPLOYMENTS, claim_deployment(example, model_version=2), format="json")
    assert again.status_code == 201, again.json()


@pytest.mark.django_db
def test_with_a_grant_on_the_endpoints_namespace_another_team_deploys_there_and_only_it_acts(
        client_for, make_user, grant, claim_editor, cards_editor, example, versions,
        cards_version):
    assert client_for(claim_editor).post(
        DEPLOYMENTS, claim_deployment(example), format="json").status_code == 201
    both = make_user("both")
    grant(both, "/abc_corp/claim")
    grant(both, "/xyz_bank/cards")

    canary = client_for(both).post(DEPLOYMENTS, cards_canary(), format="json")

    assert canary.status_code == 201, canary.json()
    url = f"{DEPLOYMENTS}{canary.json()['id']}/"
    # The canary's own team alone may not retire or roll it back at an endpoint not theirs.
    cards = client_for(cards_editor)
    assert cards.patch(url, {"status": "retired"}, format="json").status_code == 403
    assert cards.post(f"{url}rollback/", format="json").status_code == 403
    assert Deployment.objects.get(pk=canary.json()["id"]).status == "active"
    retired = client_for(both).patch(url, {"status": "retired"}, format="json")
    assert retired.status_code == 200, retired.json()


@pytest.mark.django_db
def test_the_admin_refuses_a_deployment_at_an_endpoint_of_another_namespace(
        client, claim_editor, cards_editor, example, versions, cards_version):
    services.record_deployment(model_version=versions[1], endpoint=ENDPOINT,
                               deployment_method="ecs", rolling_strategy="blue_green",
                               create_at=timezone.now() - timedelta(hours=1), user=claim_editor)
    client.force_login(cards_editor)
    now = timezone.localtime()

    response = client.post(reverse("admin:deployments_deployment_add"), {
        "model_version": cards_version.pk, "endpoint": ENDPOINT, "environment": "prod",
        "deployment_method": "lambda", "rolling_strategy": "canary", "traffic_percent": "10",
        "create_at_0": f"{now:%Y-%m-%d}", "create_at_1": f"{now:%H:%M:%S}",
        "record_as": "active",
        "environment_variables-TOTAL_FORMS": "0", "environment_variables-INITIAL_FORMS": "0",
    })

    assert response.status_code == 200  # the form again, saying why
    assert f"{ENDPOINT} belongs to /abc_corp/claim" in response.content.decode()
    assert not Deployment.objects.filter(model_version=cards_version).exists()


@pytest.mark.django_db(transaction=True)
def test_two_namespaces_racing_to_claim_a_new_endpoint_one_wins(
        claim_editor, cards_editor, versions, cards_version):
    start = threading.Barrier(2)
    contenders = [(claim_editor, versions[1]), (cards_editor, cards_version)]

    def claim(contender):
        user, version = contender
        try:
            start.wait(timeout=30)
            services.record_deployment(model_version=version, endpoint=ENDPOINT,
                                       deployment_method="ecs", rolling_strategy="blue_green",
                                       user=user)
            return "recorded"
        except PermissionDenied:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(claim, contenders))

    assert sorted(outcomes) == ["recorded", "refused"]
    winner = contenders[outcomes.index("recorded")][1].catalog_model.namespace
    assert Endpoint.objects.get(url=ENDPOINT).namespace == winner
    assert list(Deployment.objects.values_list("catalog_model__namespace", flat=True)) == [
        winner.pk]
