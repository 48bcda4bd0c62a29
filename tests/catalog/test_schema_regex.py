"""Regular expressions in input schemas run on RE2 (issue 16, item 7): a pattern that makes a
backtracking engine take exponential time, such as ^(a+)+$, answers at once."""

import pytest
import re2

from catalog import jsonschemas
from catalog.services import save_catalog_model

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
EVIL = "^(a+)+$"
# 26 characters took 9 s on Python's engine, doubling with each one more: these would take
# longer than the universe has existed.
LONG = "a" * 200 + "!"


def schema_validators(schema):
    return jsonschemas.validator(schema).VALIDATORS


@pytest.mark.parametrize("keyword", ["pattern", "patternProperties", "additionalProperties"])
def test_every_keyword_that_runs_a_regular_expression_runs_it_on_re2(keyword):
    assert schema_validators({"type": "object"})[keyword] is jsonschemas.SAFE_KEYWORDS[keyword]
    assert isinstance(jsonschemas.compile_pattern(EVIL), re2._Regexp)


@pytest.fixture
def model():
    return save_catalog_model(
        namespace="/abc", model_name="scorer",
        inference={"input": {"schema": {
            "type": "object",
            "properties": {"claim_id": {"type": "string", "pattern": EVIL}},
            "patternProperties": {EVIL: {"type": "integer"}},
            "additionalProperties": False,
        }}},
    )


def test_an_evil_pattern_on_a_long_value_is_answered(reader_api, model):
    assert schema_validators(model.inference_input_schema)["pattern"] is jsonschemas._pattern

    response = reader_api.post(f"{MODELS}{model.pk}/validate-input/", {"claim_id": LONG},
                               format="json")

    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["errors"][0]["path"] == "claim_id"
    assert "does not match" in response.json()["errors"][0]["message"]


def test_an_evil_pattern_property_on_a_long_key_is_answered(reader_api, model):
    response = reader_api.post(f"{MODELS}{model.pk}/validate-input/",
                               {LONG: 1, "a" * 200: "not an integer"}, format="json")

    assert response.status_code == 200
    messages = [error["message"] for error in response.json()["errors"]]
    assert any("do not match any of the regexes" in message or
               "does not match any of the regexes" in message for message in messages)
    assert any("is not of type 'integer'" in message for message in messages)


def test_patterns_still_match_what_they_should(reader_api, model):
    response = reader_api.post(f"{MODELS}{model.pk}/validate-input/",
                               {"claim_id": "aaaa", "aaa": 3}, format="json")

    assert response.json() == {"valid": True, "errors": []}


@pytest.mark.parametrize("schema, named", [
    ({"type": "string", "pattern": "(a)\\1"}, "not supported"),
    ({"type": "string", "pattern": "^(?=a)a$"}, "not supported"),
    ({"patternProperties": {"(?!x)": {}}}, "not supported"),
    ({"patternProperties": {"^a": {}}, "unevaluatedProperties": False}, "unevaluatedProperties"),
])
def test_a_schema_whose_regular_expressions_re2_cannot_run_is_refused(admin_api, schema, named):
    response = admin_api.post(MODELS, {"namespace": "/abc", "model_name": "lookaround",
                                       "inference": {"input": {"schema": schema}}},
                              format="json")

    assert response.status_code == 400
    assert named in str(response.json()["inference"])
