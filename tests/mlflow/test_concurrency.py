"""Eight MLflow clients sending the same write at once to a live portal: one creates, the
others get MLflow's RESOURCE_ALREADY_EXISTS (or the same answer again, where MLflow's call is
idempotent), never a server error. On PostgreSQL row locks and unique indexes queue them; on
SQLite (a database file in tests, see tests/conftest.py) its write lock does."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from mlflow.exceptions import MlflowException

from catalog.models import CatalogModel
from registry.models import Alias, ModelVersion

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.filterwarnings("ignore:.*stages:FutureWarning")]

NAME = "abc_corp.claim.doc_classification"
CLIENTS = 8


def at_once(call, errors=None):
    """`call()` from CLIENTS threads released together: each one's result or error code
    (their messages appended to `errors`)."""
    start = threading.Barrier(CLIENTS)

    def run(_):
        start.wait(timeout=30)
        try:
            return call()
        except MlflowException as error:
            if errors is not None:
                errors.append(error.message)
            return error.error_code

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(run, range(CLIENTS)))


def test_creating_one_model_at_once_creates_it_once(mlflow_as, owner):
    client = mlflow_as(owner)

    messages = []
    outcomes = at_once(lambda: client.create_registered_model(NAME).name, messages)

    assert sorted(outcomes) == sorted([NAME] + ["RESOURCE_ALREADY_EXISTS"] * (CLIENTS - 1))
    assert set(messages) == {
        f"RESOURCE_ALREADY_EXISTS: Registered Model (name={NAME}) already exists."}
    assert CatalogModel.objects.filter(mlflow_name=NAME).count() == 1


def test_registering_one_new_model_at_once_numbers_the_versions(mlflow_as, owner):
    """mlflow.register_model creates the model unless it exists (RESOURCE_ALREADY_EXISTS
    says it does), then a version: what training jobs finishing together send."""
    import mlflow

    mlflow_as(owner)
    outcomes = at_once(lambda: mlflow.register_model("s3://bucket/doc/model", NAME).version)

    assert sorted(outcomes, key=int) == [str(number) for number in range(1, CLIENTS + 1)]
    assert ModelVersion.objects.count() == CLIENTS


def test_setting_one_alias_at_once_points_it_once(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")

    outcomes = at_once(lambda: client.set_registered_model_alias(NAME, "champion", 1))

    assert outcomes == [None] * CLIENTS
    assert Alias.objects.get().version.model_version == 1
    assert client.get_model_version_by_alias(NAME, "champion").version == "1"

