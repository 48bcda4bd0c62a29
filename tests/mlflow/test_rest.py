"""MLflow's REST shapes, straight over HTTP (Django's test client): documents, errors,
authentication, bad input, and the number of queries a search costs."""

import base64

import pytest
from rest_framework.test import APIClient

from catalog.services import save_catalog_model, save_grant
from mlportal.models import Token
from mlportal.services import save_new_token
from registry.models import ModelVersion
from registry.services import register_version, set_alias, set_model_tag

pytestmark = pytest.mark.django_db

BASE = "/api/2.0/mlflow"
NAME = "abc_corp.claim.doc_classification"


@pytest.fixture
def owner(make_user):
    user = make_user("owner", email="owner@example.com")
    save_grant(namespace="/abc_corp", role="owner", user=user)
    save_grant(namespace="/mlflow", role="editor", user=user)
    return user


def token_client(user, **fields):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {save_new_token(Token(user=user, **fields))}")
    return client


def basic_client(username, password):
    client = APIClient()
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    return client


@pytest.fixture
def api(owner):
    return token_client(owner)


def call(client, method, path, body=None, **kwargs):
    """As the MLflow client calls: GET with query parameters, the rest with a JSON body."""
    url = f"{BASE}/{path}"
    if method == "get":
        return client.get(url, body or {}, **kwargs)
    return getattr(client, method)(url, body or {}, format="json", **kwargs)


@pytest.fixture
def model_with_versions(owner):
    model = save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification",
                               description="Sorts claims", owner="team@example.com")
    for number in (1, 2):
        register_version(namespace="/abc_corp/claim", model_name="doc_classification",
                         artifacts=[{"name": "model", "uri": f"s3://bucket/doc/{number}"}],
                         tags={"framework": "sklearn", "mlflow.run_id": f"run{number}"},
                         created_by="ci")
    set_alias(version=ModelVersion.objects.get(model_version=2), name="champion")
    return model


def test_a_registered_model_reads_as_mlflows_message(api, model_with_versions):
    response = call(api, "get", "registered-models/get", {"name": NAME})

    assert response.status_code == 200
    document = response.json()["registered_model"]
    assert set(document) == {"name", "creation_timestamp", "last_updated_timestamp", "user_id",
                             "description", "latest_versions", "tags", "aliases"}
    assert (document["name"], document["description"], document["user_id"]) == (
        NAME, "Sorts claims", "team@example.com")
    assert isinstance(document["creation_timestamp"], int)
    assert document["aliases"] == [{"alias": "champion", "version": "2"}]
    assert [v["version"] for v in document["latest_versions"]] == ["2"]


def test_a_model_version_reads_as_mlflows_message(api, model_with_versions):
    document = call(api, "get", "model-versions/get",
                    {"name": NAME, "version": "2"}).json()["model_version"]

    assert document == {
        "name": NAME, "version": "2", "creation_timestamp": document["creation_timestamp"],
        "last_updated_timestamp": document["last_updated_timestamp"], "user_id": "ci",
        "current_stage": "None", "description": "", "source": "s3://bucket/doc/2",
        "run_id": "run2", "run_link": "", "status": "READY",
        "tags": [{"key": "framework", "value": "sklearn"}], "aliases": ["champion"],
    }


def test_the_preview_prefix_serves_the_same_api(api, model_with_versions):
    response = api.get("/api/2.0/preview/mlflow/registered-models/get", {"name": NAME})

    assert response.status_code == 200
    assert response.json()["registered_model"]["name"] == NAME


def test_writes_answer_200_with_a_json_body(api, model_with_versions):
    responses = [
        call(api, "post", "registered-models/create", {"name": "abc_corp.claim.new"}),
        call(api, "post", "registered-models/set-tag", {"name": NAME, "key": "k", "value": "v"}),
        call(api, "delete", "registered-models/delete-tag", {"name": NAME, "key": "k"}),
        call(api, "patch", "registered-models/update", {"name": NAME, "description": "d"}),
        call(api, "post", "model-versions/create", {"name": NAME, "source": "s3://b/k/3"}),
        call(api, "delete", "registered-models/alias", {"name": NAME, "alias": "champion"}),
        call(api, "delete", "registered-models/delete", {"name": "abc_corp.claim.new"}),
    ]

    assert [(r.status_code, r["Content-Type"]) for r in responses] == [
        (200, "application/json")] * len(responses)
    assert responses[1].json() == {}


@pytest.mark.parametrize("method, path, body, message", [
    ("get", "registered-models/get", {}, "Missing value for required parameter 'name'"),
    ("get", "model-versions/get", {"name": NAME, "version": "two"}, "parameter 'version'"),
    ("get", "model-versions/get", {"name": NAME, "version": "-1"}, "parameter 'version'"),
    ("get", "model-versions/get", {"name": NAME, "version": "9999999999"},
     "parameter 'version'"),
    ("get", "model-versions/search", {"filter": "version_number > 99999999999"},
     "out of range"),
    ("post", "model-versions/search", {"max_results": [1]}, "max_results"),
    ("post", "model-versions/search", {"order_by": "name"}, "parameter 'order_by'"),
    ("get", "model-versions/search", {"page_token": "WzFd"}, "Invalid page token"),
    ("post", "registered-models/create", {"name": 12}, "expected a string"),
    ("post", "registered-models/create", {"name": "a..b"}, "MLflow model name is"),
    ("post", "registered-models/create", {"name": "/etc/passwd"}, "MLflow model name is"),
    ("post", "registered-models/create", {"name": "ok", "tags": "x"}, "parameter 'tags'"),
    ("post", "registered-models/create", {"name": "ok", "tags": [{"key": "bad key"}]},
     "A tag key is"),
    ("post", "model-versions/create", {"name": NAME}, "parameter 'source'"),
    ("post", "model-versions/create", {"name": NAME, "source": "s3://b/../k"}, "'..'"),
    ("post", "model-versions/create", {"name": NAME, "source": "s3://b/k%00"}, "NUL"),
    ("post", "model-versions/create", {"name": NAME, "source": "/local/model"}, "Local files"),
    ("post", "model-versions/create", {"name": NAME, "source": "s3://b/k", "model_id": "m-1"},
     "logged models"),
    ("get", "registered-models/search", {"filter": "name = "}, "expected a value"),
    ("get", "registered-models/search", {"filter": "name ~ 'x'"}, "unexpected character"),
    ("get", "registered-models/search", {"filter": "version_number = 1"}, "Invalid attribute"),
    ("get", "registered-models/search", {"filter": "tags.k IN ('a')"}, "Invalid comparator"),
    ("get", "registered-models/search", {"filter": "name IN 'a'"}, "takes a list"),
    ("get", "registered-models/search", {"max_results": "many"}, "max_results"),
    ("get", "registered-models/search", {"max_results": "5000"}, "between 1 and 1000"),
    ("get", "registered-models/search", {"page_token": "garbage!"}, "Invalid page token"),
    ("get", "registered-models/search", {"order_by": "colour ASC"}, "Invalid order_by key"),
    ("get", "registered-models/search", {"order_by": "name SIDEWAYS"}, "ASC, DESC"),
    ("get", "model-versions/search", {"filter": "version_number > 'x'"}, "whole number"),
    ("get", "model-versions/search", {"filter": "source_path IN ('a')"}, "Invalid comparator"),
    ("get", "model-versions/search", {"filter": "run_id = 'a' AND"}, "expected a key"),
    ("get", "registered-models/get-latest-versions", {"name": NAME, "stages": "Prod"},
     "stage"),
    ("post", "model-versions/transition-stage", {"name": NAME, "version": "1", "stage": "X"},
     "stage"),
    ("post", "model-versions/transition-stage",
     {"name": NAME, "version": "1", "stage": "Archived", "archive_existing_versions": True},
     "archive_existing_versions"),
    ("post", "registered-models/alias", {"name": NAME, "alias": "1bad", "version": "1"},
     "An alias starts with a letter"),
])
def test_bad_input_is_invalid_parameter_value_naming_the_problem(api, model_with_versions,
                                                                 method, path, body, message):
    response = call(api, method, path, body)

    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]
    assert set(response.json()) == {"error_code", "message"}


def test_a_body_that_is_not_a_json_object_is_refused(api):
    not_json = api.post(f"{BASE}/registered-models/create", "{", content_type="application/json")
    a_list = api.post(f"{BASE}/registered-models/create", "[1]", content_type="application/json")

    assert [r.status_code for r in (not_json, a_list)] == [400, 400]
    assert {r.json()["error_code"] for r in (not_json, a_list)} == {"INVALID_PARAMETER_VALUE"}


def test_a_body_nested_1000_deep_is_refused_not_a_server_error(api):
    deep = "[" * 1000 + "]" * 1000
    response = api.post(f"{BASE}/registered-models/create", '{"name": ' + deep + "}",
                        content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "name: Nested more than 256 levels deep." in response.json()["message"]


def test_an_unknown_endpoint_is_endpoint_not_found(api):
    response = call(api, "get", "experiments/nothing-here/at-all")
    unknown = call(api, "get", "registered-models/frobnicate")

    assert response.status_code == 400  # runs and experiments: the portal keeps none
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")


def test_the_tracking_endpoints_refuse_runs(api):
    response = call(api, "get", "runs/get", {"run_id": "0123"})

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "runs:/" in response.json()["message"]


def test_anonymous_requests_are_unauthenticated(model_with_versions):
    response = call(APIClient(), "get", "registered-models/get", {"name": NAME})

    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "Basic" in response["WWW-Authenticate"]


def test_a_bad_token_is_unauthenticated(model_with_versions):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer mlp_nothing")

    response = call(client, "get", "registered-models/get", {"name": NAME})
    assert (response.status_code, response.json()["error_code"]) == (401, "UNAUTHENTICATED")


def test_a_read_only_token_reads_and_may_not_write(owner, model_with_versions):
    client = token_client(owner, write_enabled=False)

    assert call(client, "get", "registered-models/get", {"name": NAME}).status_code == 200
    assert call(client, "post", "registered-models/get-latest-versions",
                {"name": NAME}).status_code == 200
    response = call(client, "post", "registered-models/set-tag",
                    {"name": NAME, "key": "k", "value": "v"})
    assert (response.status_code, response.json()) == (
        403, {"error_code": "PERMISSION_DENIED", "message": "This token is read-only."})


def test_basic_auth_takes_the_users_password(owner, model_with_versions):
    good = call(basic_client("owner", "owner-password"), "get", "registered-models/get",
                {"name": NAME})
    bad = call(basic_client("owner", "wrong"), "get", "registered-models/get", {"name": NAME})

    assert good.status_code == 200
    assert (bad.status_code, bad.json()["error_code"]) == (401, "UNAUTHENTICATED")


def test_a_basic_password_left_unchecked_because_others_used_the_window_gets_429(
        owner, model_with_versions, window_used_up_meanwhile):
    response = call(basic_client("owner", "owner-password"), "get", "registered-models/get",
                    {"name": NAME})

    assert (response.status_code, response.json()["error_code"]) == (
        429, "REQUEST_LIMIT_EXCEEDED")  # not 401: the password was never checked
    assert int(response["Retry-After"]) > 0


def test_failed_basic_passwords_are_throttled_like_every_sign_in(settings, owner,
                                                                  model_with_versions):
    settings.MLPORTAL_LOGIN_RATE = "3/minute"
    for _ in range(3):
        assert call(basic_client("owner", "wrong"), "get", "registered-models/get",
                    {"name": NAME}).status_code == 401

    throttled = call(basic_client("owner", "owner-password"), "get", "registered-models/get",
                     {"name": NAME})
    assert (throttled.status_code, throttled.json()["error_code"]) == (
        429, "REQUEST_LIMIT_EXCEEDED")
    assert int(throttled["Retry-After"]) > 0
    # The portal's other sign-ins count the same failures.
    token = APIClient().post("/api/v1/auth/token/",
                             {"username": "owner", "password": "owner-password"})
    assert token.status_code == 429
    # Tokens are not passwords: they still work.
    assert call(token_client(owner), "get", "registered-models/get",
                {"name": NAME}).status_code == 200


def test_deleting_a_version_is_refused_in_mlflows_shape(api, model_with_versions):
    response = call(api, "delete", "model-versions/delete", {"name": NAME, "version": "1"})

    assert response.status_code == 409
    assert response.json()["error_code"] == "RESOURCE_CONFLICT"
    assert "never deletes a version" in response.json()["message"]
    assert ModelVersion.objects.count() == 2


def test_an_editor_elsewhere_reads_but_may_not_write(make_user, model_with_versions):
    outsider = make_user("outsider")
    save_grant(namespace="/other", role="editor", user=outsider)
    client = token_client(outsider)

    assert call(client, "get", "model-versions/get",
                {"name": NAME, "version": "1"}).status_code == 200
    refused = call(client, "post", "model-versions/create", {"name": NAME, "source": "s3://b/k"})
    create = call(client, "post", "registered-models/create", {"name": "abc_corp.claim.mine"})
    own = call(client, "post", "registered-models/create", {"name": "other.mine"})
    assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED")
    assert "/abc_corp/claim" in refused.json()["message"]
    assert (create.status_code, create.json()["error_code"]) == (403, "PERMISSION_DENIED")
    assert own.status_code == 200


def _fill(first, last):
    """Models model_<first>..model_<last - 1> in /abc_corp/bulk, each with a tag, two versions
    (with tags and a run id) and an alias."""
    for index in range(first, last):
        name = f"model_{index:03d}"
        model = save_catalog_model(namespace="/abc_corp/bulk", model_name=name)
        set_model_tag(catalog_model=model, key="team", value="bulk")
        for number in (1, 2):
            register_version(namespace="/abc_corp/bulk", model_name=name,
                             artifacts=[{"name": "model", "uri": f"s3://b/{name}/{number}"}],
                             tags={"a": "1", "mlflow.run_id": f"run{number}"})
        set_alias(version=ModelVersion.objects.get(catalog_model=model, model_version=1),
                  name="champion")


@pytest.mark.parametrize("path, params, found", [
    ("registered-models/search", {"filter": "name LIKE 'abc_corp.bulk.%' AND tags.team = 'bulk'",
                                  "order_by": "last_updated_timestamp DESC"}, "models"),
    ("registered-models/search", {}, "models"),
    ("model-versions/search", {"filter": "name ILIKE '%bulk%' AND version_number > 0"},
     "versions"),
    ("model-versions/search", {"filter": "run_id IN ('run1', 'run2') AND tags.a = '1'"},
     "versions"),
])
def test_search_costs_the_same_queries_for_3_and_30_models(api, owner, path, params, found,
                                                            django_assert_max_num_queries):
    key = {"models": "registered_models", "versions": "model_versions"}[found]
    per_model = {"models": 1, "versions": 2}[found]
    _fill(0, 3)
    with django_assert_max_num_queries(12) as few:
        response = call(api, "get", path, params)
    assert len(response.json()[key]) == 3 * per_model
    _fill(3, 30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = call(api, "get", path, params)
    assert len(response.json()[key]) == 30 * per_model


def _mlflow_routes():
    """Every registry endpoint of the pinned client's protos: (path after the prefix, method)."""
    from mlflow.protos.model_registry_pb2 import ModelRegistryService
    from mlflow.utils.rest_utils import extract_all_api_info_for_service

    endpoints = extract_all_api_info_for_service(ModelRegistryService, "/api/2.0")
    return sorted({(path.removeprefix("/api/2.0/mlflow/"), method)
                   for pairs in endpoints.values() for path, method in pairs})


ROUTE_PARAMS = {"name": NAME, "version": "1", "alias": "champion", "key": "k", "value": "v",
                "source": "s3://bucket/doc/3", "stage": "Archived", "new_name": NAME + "_2",
                "description": "d"}


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/api/2.0/preview/mlflow"])
@pytest.mark.parametrize("path, method", _mlflow_routes())
def test_every_registry_endpoint_of_mlflows_protos_is_served_under_both_prefixes(
        api, model_with_versions, prefix, path, method):
    url = f"{prefix}/{path}"
    params = {**ROUTE_PARAMS, "name": "abc_corp.claim.new"} if path.endswith(
        "registered-models/create") else ROUTE_PARAMS
    if method == "GET":
        response = api.get(url, params)
    else:
        response = getattr(api, method.lower())(url, params, format="json")

    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body.get("error_code") != "ENDPOINT_NOT_FOUND", (path, method, body)
    # The portal never deletes a version (nor a model that has versions): RESOURCE_CONFLICT.
    assert response.status_code == (409 if path.endswith("/delete") else 200), (path, body)
