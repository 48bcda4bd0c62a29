"""MLflow's names and search grammar, parsed and executed in the database."""

import pytest
from django.db import connection

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from registry.mlflow import filters, names
from registry.mlflow.errors import MlflowError
from registry.models import ModelVersion
from registry.services import register_version, set_model_tag


@pytest.mark.parametrize("name, stored", [
    ("abc_corp.claim.doc_classification", ("/abc_corp/claim", "doc_classification")),
    ("abc_corp.pricing", ("/abc_corp", "pricing")),
    ("churn", ("/mlflow", "churn")),
    ("Churn-Model_2", ("/mlflow", "Churn-Model_2")),
])
def test_names_round_trip(name, stored):
    assert names.parse(name) == stored
    assert names.mlflow_name(*stored) == name


def test_the_default_namespace_is_a_setting(settings):
    settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE = "/shared/mlflow"

    assert names.parse("churn") == ("/shared/mlflow", "churn")
    assert names.mlflow_name("/shared/mlflow", "churn") == "churn"


@pytest.mark.parametrize("name", [
    "Abc.model", "abc..model", ".model", "model.", "a b", "abc/claim.model", "-x", "a.-x", "",
])
def test_names_that_do_not_fit_are_refused_naming_the_rule(name):
    with pytest.raises(MlflowError) as caught:
        names.parse(name)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_model_whose_own_name_holds_dots_is_still_found():
    assert ("/abc_corp", "v1.2") in names.candidates("abc_corp.v1.2")
    assert names.candidates("abc_corp.v1.2")[0] == ("/abc_corp/v1", "2")


def test_the_parser_reads_the_whole_grammar():
    parsed = filters.parse_filter(
        "name LIKE 'abc%' AND tags.`my key` != \"x\" AND version_number >= 2 "
        "AND run_id NOT IN ('a', 'b') and tags.mlflow.prompt.is_prompt = 'false' "
        "AND attribute.source_path ILIKE 's3://%'")

    assert [(c.entity, c.key, c.operator, c.value) for c in parsed] == [
        ("attribute", "name", "LIKE", "abc%"),
        ("tag", "my key", "!=", "x"),
        ("attribute", "version_number", ">=", 2),
        ("attribute", "run_id", "NOT IN", ["a", "b"]),
        ("tag", "mlflow.prompt.is_prompt", "=", "false"),
        ("attribute", "source_path", "ILIKE", "s3://%"),
    ]


@pytest.mark.parametrize("text, problem", [
    ("name = 'a' OR name = 'b'", "OR is not supported"),
    ("name = 'a' name = 'b'", "expected AND"),
    ("name", "comparison operator"),
    ("name = ", "expected a value"),
    ("= 'a'", "expected a key"),
    ("name IN ('a' 'b')", "',' or ')'"),
    ("name IN ()", "a quoted string in the list"),
    ("name = 'unterminated", "unexpected character"),
    ("metrics.acc > 1", "Invalid entity type 'metrics'"),
    ("name NOT LIKE 'a'", "IN after NOT"),
])
def test_bad_filters_name_the_problem(text, problem):
    with pytest.raises(MlflowError) as caught:
        filters.version_conditions(filters.parse_filter(text))
    assert problem in caught.value.message


@pytest.fixture
def catalog(db):
    for path, name in [("/abc_corp/claim", "doc"), ("/abc_corp/claim", "Fraud"),
                       ("/mlflow", "churn"), ("/abc_corp", "v1.2")]:
        model = save_catalog_model(namespace=path, model_name=name)
        set_model_tag(catalog_model=model, key="team", value=path.split("/")[1])
        register_version(namespace=path, model_name=name,
                         artifacts=[{"name": "model", "uri": f"s3://bucket{path}/{name}"}],
                         tags={"mlflow.run_id": f"run-{name}"})


def matching_models(text):
    condition = filters.model_conditions(filters.parse_filter(text))
    rows = CatalogModel.objects.filter(condition)
    return sorted(rows.values_list("model_name", flat=True))


def matching_versions(text):
    condition = filters.version_conditions(filters.parse_filter(text))
    rows = ModelVersion.objects.filter(condition)
    return sorted(rows.values_list("catalog_model__model_name", flat=True))


@pytest.mark.parametrize("text, found", [
    ("name = 'churn'", ["churn"]),
    ("name = 'mlflow.churn'", ["churn"]),
    ("name = 'abc_corp.v1.2'", ["v1.2"]),
    ("name != 'churn'", ["Fraud", "doc", "v1.2"]),
    ("name IN ('churn', 'abc_corp.claim.doc')", ["churn", "doc"]),
    ("name NOT IN ('churn', 'abc_corp.claim.doc')", ["Fraud", "v1.2"]),
    ("name LIKE 'abc_corp.claim.%'", ["Fraud", "doc"]),
    ("name LIKE '%fraud'", []),
    ("name ILIKE '%fraud'", ["Fraud"]),
    ("name LIKE 'c_urn'", ["churn"]),
    ("name LIKE 'abc_corp.v1.2'", ["v1.2"]),
    # A pattern's start narrows the namespaces; the pattern still decides, case and all.
    ("name LIKE 'abc_corp.claim.F%'", ["Fraud"]),
    ("name LIKE 'abc_co%'", ["Fraud", "doc", "v1.2"]),
    ("name LIKE 'ABC_corp.%'", []),
    ("name ILIKE 'ABC_CORP.%'", ["Fraud", "doc", "v1.2"]),
    ("name LIKE 'abc%.doc'", ["doc"]),
    ("name LIKE 'abc_corp.c_aim.d_c'", ["doc"]),
    ("name LIKE 'ch%'", ["churn"]),
    ("name LIKE 'abc'", []),
    ("tags.team = 'abc_corp'", ["Fraud", "doc", "v1.2"]),
    ("tags.team != 'abc_corp'", ["churn"]),
    ("tags.team LIKE 'ml%' AND name = 'churn'", ["churn"]),
    ("tags.missing != 'x'", []),
    ("tags.`mlflow.prompt.is_prompt` != 'true'", ["Fraud", "churn", "doc", "v1.2"]),
])
def test_model_filters_run_in_the_database(catalog, text, found):
    assert matching_models(text) == found


@pytest.mark.parametrize("text, found", [
    ("version_number = 1", ["Fraud", "churn", "doc", "v1.2"]),
    ("version_number > 1", []),
    ("run_id = 'run-doc'", ["doc"]),
    ("run_id IN ('run-doc', 'run-churn')", ["churn", "doc"]),
    ("run_id != 'run-doc'", ["Fraud", "churn", "v1.2"]),
    ("source_path = 's3://bucket/mlflow/churn'", ["churn"]),
    ("source_path LIKE 's3://bucket/abc_corp/claim/%'", ["Fraud", "doc"]),
    ("name = 'abc_corp.claim.Fraud' AND version_number = 1", ["Fraud"]),
])
def test_version_filters_run_in_the_database(catalog, text, found):
    assert matching_versions(text) == found


def test_like_patterns_escape_regular_expression_characters():
    assert filters.like_regex("a.b%c_(d)") == r"^a\.b.*c.\(d\)$"


def test_like_patterns_become_sqlite_glob_patterns():
    assert filters.like_glob("a*b?%_[x]") == "a[*]b[?]*?[[]x]"


def _plan(queryset):
    with connection.cursor() as cursor:
        # Tables this small would be scanned whole; a bitmap scan is what a GIN index gives.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        return queryset.explain()


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the trigram index exists on PostgreSQL only")
@pytest.mark.parametrize("text, index", [
    ("name LIKE '%fraud%'", "catalog_model_mlflow_name_trigrams"),
    ("name ILIKE '%FRAUD%'", "catalog_model_mlflow_name_trigrams"),
    ("name LIKE 'abc_corp.claim.%'", "catalog_catalogmodel_namespace_id"),
    ("name ILIKE 'ABC_CORP.CLAIM.D%'", "catalog_catalogmodel_namespace_id"),
])
def test_name_patterns_search_through_an_index(catalog, text, index):
    models = CatalogModel.objects.filter(filters.model_conditions(filters.parse_filter(text)))
    versions = ModelVersion.objects.filter(
        filters.version_conditions(filters.parse_filter(text)))

    for queryset in (models, versions):
        assert f"Bitmap Index Scan on {index}" in _plan(queryset)
