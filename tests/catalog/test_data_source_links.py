"""Linking an existing data source from a model's document is no oracle for its secrets:
whoever may not change the data source gets the same answer whatever password it sends."""

import pytest

from catalog.models import DataSource
from catalog.services import save_catalog_model, save_data_source

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
STORED = {"host": "db.internal", "user": "svc", "password": "the-right-password"}


@pytest.fixture
def warehouse():
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification",
                       data_sources=[{"name": "warehouse", "type": "postgres"}])
    return save_data_source(instance=DataSource.objects.get(name="warehouse"),
                            connection=STORED)


@pytest.fixture
def outsider(make_user, grant, client_for):
    """An editor of /xyz_bank, who may not change the warehouse (it feeds /abc_corp)."""
    user = make_user("outsider")
    grant(user, "/xyz_bank")
    return client_for(user)


def link(client, model_name, connection):
    return client.post(MODELS, {
        "namespace": "/xyz_bank/cards", "model_name": model_name,
        "data_sources": [{"name": "warehouse", "type": "postgres", "connection": connection}],
    }, format="json")


def test_a_right_and_a_wrong_password_get_the_same_answer(warehouse, outsider):
    right = link(outsider, "first", STORED)
    wrong = link(outsider, "second", STORED | {"password": "a-guess"})

    assert right.status_code == wrong.status_code == 201, (right.json(), wrong.json())
    assert {k: v for k, v in right.json().items() if k not in {"id", "model_name", "create_at",
                                                               "update_at"}} == {
        k: v for k, v in wrong.json().items() if k not in {"id", "model_name", "create_at",
                                                          "update_at"}}
    # The guess was not taken either.
    assert DataSource.objects.get(name="warehouse").connection == STORED


@pytest.mark.parametrize("connection", [None, {"host": "db.internal", "user": "svc",
                                               "password": "********"}])
def test_linking_by_name_or_with_the_masked_connection_is_allowed(warehouse, outsider,
                                                                  connection):
    document = {"name": "warehouse"} | ({"connection": connection} if connection else {})

    response = outsider.post(MODELS, {"namespace": "/xyz_bank/cards", "model_name": "churn",
                                      "data_sources": [document]}, format="json")

    assert response.status_code == 201, response.json()
    assert DataSource.objects.get(name="warehouse").connection == STORED


def test_what_anyone_can_read_that_differs_is_a_400_whatever_the_password(warehouse, outsider):
    other_host = STORED | {"host": "elsewhere.internal"}

    right = link(outsider, "first", other_host)
    wrong = link(outsider, "second", other_host | {"password": "a-guess"})

    assert right.status_code == wrong.status_code == 400
    assert right.json() == wrong.json()
    assert "connection" in str(right.json()["data_sources"])


def test_who_may_change_the_data_source_is_told_a_different_password_differs(warehouse,
                                                                            admin_api):
    response = admin_api.post(MODELS, {
        "namespace": "/abc_corp/claim", "model_name": "fraud",
        "data_sources": [{"name": "warehouse", "connection": STORED | {"password": "new"}}],
    }, format="json")

    assert response.status_code == 400
    assert "connection" in str(response.json()["data_sources"])
    assert DataSource.objects.get(name="warehouse").connection == STORED
