"""What served an endpoint when: replacement, canaries, promotion, rollback."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from catalog.models import CatalogModel
from deployments import services
from deployments.models import Deployment
from mlportal.api.errors import exception_handler
from registry.models import ModelVersion
from tests.helpers import ENDPOINT, at

pytestmark = pytest.mark.django_db

DEPLOYMENTS = "/api/v1/deployments/"


def served(client, moment=None, endpoint=ENDPOINT):
    """(version, traffic percent) of what served `endpoint` at `moment` (None: now)."""
    query = {"endpoint": endpoint}
    if moment is None:
        query["active"] = "true"
    else:
        query["active_at"] = moment.isoformat()
    response = client.get(DEPLOYMENTS, query)
    assert response.status_code == 200, response.content
    return sorted((d["model_version"], d["traffic_percent"]) for d in response.json()["results"])


class TestBlueGreenReplacement:
    @pytest.fixture(autouse=True)
    def rollout(self, deploy):
        self.first = deploy(1, create_at=at("01-02 00:00"))
        self.second = deploy(2, create_at=at("01-09 00:00"))

    def test_each_moment_has_the_version_that_served_it(self, admin_api):
        assert served(admin_api, at("01-01 23:59")) == []
        assert served(admin_api, at("01-02 00:00")) == [(1, None)]
        assert served(admin_api, at("01-08 23:59")) == [(1, None)]
        assert served(admin_api, at("01-09 00:00")) == [(2, None)]
        assert served(admin_api, at("12-31 00:00")) == [(2, None)]
        assert served(admin_api) == [(2, None)]

    def test_the_replaced_deployment_retires_at_that_moment(self, admin_api):
        first = admin_api.get(f"{DEPLOYMENTS}{self.first.pk}/").json()

        assert first["status"] == "retired"
        assert first["active_from"] == "2023-01-02T00:00:00.000Z"
        assert first["active_until"] == "2023-01-09T00:00:00.000Z"
        assert first["replaced_by"] == self.second.pk
        assert [(s["status"], s["at"], s["reason"]) for s in first["status_history"]] == [
            ("active", "2023-01-02T00:00:00.000Z", "recorded"),
            ("retired", "2023-01-09T00:00:00.000Z",
             "replaced by /abc_corp/claim/doc_classification deployment 2"),
        ]

    def test_another_endpoint_is_left_alone(self, admin_api, deploy):
        deploy(3, endpoint="https://staging.example.com/doc", create_at=at("01-10 00:00"))

        assert served(admin_api) == [(2, None)]
        assert served(admin_api, endpoint="https://staging.example.com/doc") == [(3, None)]

    def test_a_rolling_deployment_replaces_too(self, admin_api, deploy):
        deploy(3, rolling_strategy="rolling", create_at=at("01-10 00:00"))

        assert served(admin_api) == [(3, None)]

    def test_an_endpoint_history_is_recorded_in_time_order(self, admin_api, example, deploy):
        document = example("deployment") | {"create_at": "2023-01-05T00:00:00.000Z"}
        del document["deployment_id"]

        response = admin_api.post(DEPLOYMENTS, document, format="json")

        assert response.status_code == 400
        assert "time order" in response.json()["create_at"][0]
        assert served(admin_api, at("01-05 00:00")) == [(1, None)]

    def test_the_database_refuses_two_full_rollouts_at_one_endpoint(self, versions):
        with pytest.raises(IntegrityError), transaction.atomic():
            Deployment.objects.create(
                model_version=versions[3], deployment_id=99, endpoint=ENDPOINT,
                deployment_method="ecs", rolling_strategy="blue_green",
                active_from=timezone.now())


class TestCanary:
    @pytest.fixture(autouse=True)
    def rollout(self, deploy):
        self.stable = deploy(2, create_at=at("01-09 00:00"))
        self.canary = deploy(3, rolling_strategy="canary", traffic_percent=10,
                             create_at=at("01-12 00:00"))

    def test_a_canary_runs_beside_what_serves(self, admin_api):
        assert served(admin_api, at("01-11 00:00")) == [(2, None)]
        assert served(admin_api, at("01-12 00:00")) == [(2, None), (3, 10)]
        assert served(admin_api) == [(2, None), (3, 10)]

    def test_promoting_it_retires_the_others(self, admin_api):
        response = admin_api.post(f"{DEPLOYMENTS}{self.canary.pk}/promote/")

        assert response.status_code == 200, response.json()
        assert response.json()["traffic_percent"] == 100
        assert response.json()["status_history"][-1]["reason"] == "promoted"
        assert served(admin_api) == [(3, 100)]
        # Both served then; the canary's share at that time is in its history.
        assert served(admin_api, at("01-13 00:00")) == [(2, None), (3, 100)]
        assert [s["traffic_percent"] for s in response.json()["status_history"]] == [10, 100]
        stable = Deployment.objects.get(pk=self.stable.pk)
        assert (stable.status, stable.replaced_by_id) == ("retired", self.canary.pk)

    def test_promotion_at_a_given_time_answers_for_that_time(self, admin_api):
        services.promote(deployment=self.canary, at=at("01-20 00:00"))

        assert served(admin_api, at("01-19 23:59")) == [(2, None), (3, 100)]
        assert served(admin_api, at("01-20 00:00")) == [(3, 100)]

    def test_rolling_it_back_leaves_what_it_ran_beside(self, admin_api):
        response = admin_api.post(f"{DEPLOYMENTS}{self.canary.pk}/rollback/")

        assert response.status_code == 200
        assert response.json()["status"] == "rolled_back"
        assert response.json()["status_history"][-1]["reason"] == "canary rolled back"
        assert served(admin_api) == [(2, None)]
        assert Deployment.objects.count() == 2

    def test_its_traffic_share_changes_and_is_kept_in_the_history(self, admin_api):
        response = admin_api.patch(f"{DEPLOYMENTS}{self.canary.pk}/", {"traffic_percent": 50},
                                   format="json")

        assert response.status_code == 200
        history = response.json()["status_history"]
        assert [(s["status"], s["traffic_percent"]) for s in history] == [
            ("active", 10), ("active", 50)]
        assert served(admin_api) == [(2, None), (3, 50)]

    def test_a_full_rollout_ends_the_canary_too(self, admin_api, deploy):
        deploy(1, create_at=at("01-20 00:00"))

        assert served(admin_api) == [(1, None)]
        assert Deployment.objects.get(pk=self.canary.pk).status == "retired"

    def test_only_an_active_canary_is_promoted(self, admin_api):
        not_canary = admin_api.post(f"{DEPLOYMENTS}{self.stable.pk}/promote/")
        assert not_canary.status_code == 400
        assert "Only a canary" in not_canary.json()["rolling_strategy"][0]

        services.change_status(deployment=self.canary, status="retired")
        retired = admin_api.post(f"{DEPLOYMENTS}{self.canary.pk}/promote/")
        assert retired.status_code == 400
        assert "retired" in retired.json()["status"][0]

    def test_traffic_percent_is_for_canaries_only(self, admin_api):
        response = admin_api.patch(f"{DEPLOYMENTS}{self.stable.pk}/", {"traffic_percent": 20},
                                   format="json")

        assert response.status_code == 400
        assert list(response.json()) == ["traffic_percent"]


class TestRollback:
    @pytest.fixture(autouse=True)
    def rollout(self, deploy):
        self.first = deploy(1, create_at=at("01-02 00:00"), environment="prod",
                            deployment_method="eks", environment_variables=[
                                {"name": "MODE", "value": "v1"},
                                {"name": "DB_PASSWORD", "value": "first-secret"}])
        self.second = deploy(2, create_at=at("01-09 00:00"), environment="prod")

    def rollback(self, client, deployment):
        return client.post(f"{DEPLOYMENTS}{deployment.pk}/rollback/")

    def test_rollback_deploys_again_what_served_before(self, admin_api):
        response = self.rollback(admin_api, self.second)

        assert response.status_code == 201, response.json()
        restored = response.json()
        assert (restored["model_version"], restored["deployment_id"]) == (1, 3)
        assert (restored["deployment_method"], restored["environment"]) == ("eks", "prod")
        assert restored["environment_variables"] == [
            {"name": "MODE", "value": "v1"},
            {"name": "DB_PASSWORD", "value": "********", "secret": True}]
        assert restored["status_history"][0]["reason"] == (
            "rollback of /abc_corp/claim/doc_classification deployment 2")
        assert served(admin_api) == [(1, None)]
        second = admin_api.get(f"{DEPLOYMENTS}{self.second.pk}/").json()
        assert second["status"] == "rolled_back"
        assert second["replaced_by"] == restored["id"]
        assert second["active_until"] == restored["active_from"]
        assert second["status_history"][-1]["reason"] == "rolled back to version 1"

    def test_rolling_back_the_rollback_restores_the_version_it_replaced(self, admin_api):
        restored = self.rollback(admin_api, self.second).json()

        again = admin_api.post(f"{DEPLOYMENTS}{restored['id']}/rollback/")

        assert again.status_code == 201
        assert again.json()["model_version"] == 2
        assert served(admin_api) == [(2, None)]

    def test_the_first_deployment_at_an_endpoint_has_nothing_to_roll_back_to(self, admin_api,
                                                                            deploy):
        lone = deploy(3, endpoint="https://new.example.com/doc")

        response = self.rollback(admin_api, lone)

        assert response.status_code == 400
        assert "no version to roll back to" in response.json()["endpoint"][0]
        assert Deployment.objects.get(pk=lone.pk).status == "active"

    def test_only_an_active_deployment_is_rolled_back(self, admin_api):
        response = self.rollback(admin_api, self.first)

        assert response.status_code == 400
        assert "retired" in response.json()["status"][0]
        assert Deployment.objects.count() == 2

    def test_a_promoted_canary_rolls_back_to_what_it_replaced(self, admin_api, deploy):
        canary = deploy(3, rolling_strategy="canary", traffic_percent=5,
                        create_at=at("01-12 00:00"))
        services.promote(deployment=canary, at=at("01-13 00:00"))

        restored = self.rollback(admin_api, canary).json()

        assert (restored["model_version"], restored["rolling_strategy"]) == (2, "blue_green")
        assert served(admin_api) == [(2, None)]

    def test_a_canary_deployed_again_takes_all_the_traffic(self, admin_api, deploy):
        canary = deploy(3, rolling_strategy="canary", traffic_percent=5,
                        create_at=at("01-12 00:00"))
        services.promote(deployment=canary, at=at("01-13 00:00"))
        latest = deploy(1, create_at=at("01-14 00:00"))

        restored = self.rollback(admin_api, latest).json()

        assert (restored["model_version"], restored["rolling_strategy"],
                restored["traffic_percent"]) == (3, "blue_green", None)


class TestPending:
    def test_a_pending_deployment_serves_from_its_activation(self, admin_api, deploy):
        deploy(1, create_at=at("01-02 00:00"))
        pending = deploy(2, create_at=at("01-09 00:00"), status="pending")
        assert served(admin_api) == [(1, None)]
        assert served(admin_api, at("01-10 00:00")) == [(1, None)]

        before = timezone.now()
        response = admin_api.patch(f"{DEPLOYMENTS}{pending.pk}/", {"status": "active"},
                                   format="json")

        assert response.status_code == 200
        assert served(admin_api) == [(2, None)]
        pending.refresh_from_db()
        assert pending.active_from >= before
        assert served(admin_api, at("01-10 00:00")) == [(1, None)]

    def test_a_pending_deployment_may_fail_without_ever_serving(self, admin_api, deploy):
        pending = deploy(2, status="pending")

        services.change_status(deployment=pending, status="failed")

        pending.refresh_from_db()
        assert (pending.status, pending.active_from, pending.active_until) == ("failed", None, None)
        assert served(admin_api, timezone.now() + timedelta(seconds=1)) == []


class TestNothingLost:
    def test_a_deployed_version_cannot_be_deleted(self, deploy, versions):
        deploy(3)
        request = APIRequestFactory().delete("/")

        with pytest.raises(models.ProtectedError) as refused:
            versions[3].delete()

        response = exception_handler(refused.value, {"request": request})
        assert response.status_code == 409
        assert "deployment 1" in response.data["detail"]
        assert ModelVersion.objects.filter(pk=versions[3].pk).exists()

    def test_a_deployed_version_cannot_be_deleted_through_the_api(self, admin_api, deploy,
                                                                  versions):
        deploy(3)

        response = admin_api.delete(f"/api/v1/versions/{versions[3].pk}/")

        assert response.status_code in (405, 409)
        assert ModelVersion.objects.filter(pk=versions[3].pk).exists()

    def test_a_model_with_deployments_cannot_be_deleted_through_the_api(self, admin_api,
                                                                       deploy, versions):
        deploy(3)
        model = CatalogModel.objects.get()

        response = admin_api.delete(f"/api/v1/models/{model.pk}/")

        assert response.status_code == 409
        assert Deployment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="concurrent writers need PostgreSQL's row locks")
def test_concurrent_recordings_take_distinct_deployment_ids(versions):
    errors = []

    def record(index):
        try:
            services.record_deployment(
                model_version=versions[index % 3 + 1], deployment_method="ecs",
                rolling_strategy="blue_green", endpoint=f"https://e{index}.example.com/")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(Deployment.objects.values_list("deployment_id", flat=True)) == list(
        range(1, 17))


def test_a_status_change_keeps_the_endpoint_history_in_order(deploy):
    pending = deploy(1, status="pending", create_at=at("01-02 00:00"))
    deploy(2, create_at=at("01-09 00:00"))

    with pytest.raises(ValidationError) as refused:
        services.change_status(deployment=pending, status="active", at=at("01-05 00:00"))

    assert "time order" in refused.value.message_dict["status"][0]
