"""What an attacker or a careless client sends the MLflow API: each answers MLflow's
INVALID_PARAMETER_VALUE (or a plain result), never a server error, and bounds its work."""

import base64
import json

import pytest

from registry.mlflow import names
from registry.models import ModelVersion
from registry.services import set_model_tag, set_tags
from tests.mlflow.test_rest import NAME, call, model_with_versions, owner  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner):  # noqa: F811
    from tests.mlflow.test_rest import token_client

    return token_client(owner)


def _token(offset):
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


@pytest.mark.parametrize("method, path, body, message", [
    # Digits that str.isdigit() accepts and int() does not.
    ("get", "model-versions/get", {"name": NAME, "version": "\u00b2"}, "parameter 'version'"),
    ("post", "model-versions/update", {"name": NAME, "version": "\u00b9\u00b2",
                                       "description": "x"}, "parameter 'version'"),
    ("get", "model-versions/search", {"filter": "version_number = '\u00b2'"}, "whole number"),
    # A page token carrying an offset no database takes.
    ("get", "registered-models/search", {"page_token": _token(10**22)}, "Invalid page token"),
    ("get", "model-versions/search", {"page_token": _token(2**63)}, "Invalid page token"),
    # Lists and filters beyond what one search may ask for.
    ("post", "registered-models/search",
     {"filter": "name IN (" + ", ".join(["'a'"] * 1001) + ")"}, "at most 1000 values"),
    ("post", "model-versions/search",
     {"filter": "name = 'a'" + " AND name != 'b'" * 10_000}, "at most 100000"),
])
def test_hostile_parameters_are_invalid_parameter_value(api, model_with_versions, method,  # noqa: F811
                                                        path, body, message):
    response = call(api, method, path, body)

    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


@pytest.mark.parametrize("path, body", [
    ("registered-models/create", {"name": "churn\ud800"}),
    ("registered-models/create", {"name": "churn", "tags": [{"key": "k", "value": "\udfff"}]}),
    ("model-versions/create", {"name": NAME, "source": "s3://bucket/\ud800"}),
])
def test_a_lone_surrogate_in_the_body_is_refused(api, model_with_versions, path, body):  # noqa: F811
    raw = json.dumps(body)  # json escapes the surrogate as \ud800, as an attacker sends it

    response = api.post(f"/api/2.0/mlflow/{path}", raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "surrogate" in response.json()["message"]
    assert ModelVersion.objects.count() == 2


@pytest.mark.parametrize("path, key", [
    ("registered-models/search", "name"), ("model-versions/search", "name"),
    ("model-versions/search", "source_path"), ("model-versions/search", "run_id"),
])
@pytest.mark.parametrize("operator", ["LIKE", "ILIKE"])
def test_a_backslash_in_a_like_pattern_is_a_plain_character(api, model_with_versions,  # noqa: F811
                                                            path, key, operator):
    response = call(api, "post", path, {"filter": f"{key} {operator} 'a\\\\'"})

    assert response.status_code == 200, response.content


def test_a_tag_value_ending_with_a_backslash_is_found_by_like(api, model_with_versions):  # noqa: F811
    set_model_tag(catalog_model=model_with_versions, key="path", value="C:\\models\\")
    version = ModelVersion.objects.get(model_version=1)
    set_tags(version=version, tags={"path": "C:\\models\\"})

    models = call(api, "post", "registered-models/search",
                  {"filter": "tags.path LIKE 'C:\\\\%\\\\'"})
    versions = call(api, "post", "model-versions/search",
                    {"filter": "tags.path ILIKE 'c:\\\\models\\\\'"})

    assert [row["name"] for row in models.json()["registered_models"]] == [NAME]
    assert [row["version"] for row in versions.json()["model_versions"]] == ["1"]


def test_a_name_longer_than_any_model_is_not_split(monkeypatch):
    calls = []
    monkeypatch.setattr(names, "_valid", lambda *args: calls.append(args) or False)

    assert names.candidates("a." * 5000 + "b") == []
    assert calls == []
