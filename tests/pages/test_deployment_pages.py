"""What the pages show of deployments: search, the model's timeline, the data source's
impact, the endpoint's history."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.services import record_deployment
from registry.models import ModelVersion
from tests.helpers import PROD, STAGING, day
from tests.pages.test_pages import DOC_MODEL, SEARCH, read_csv, shown

pytestmark = pytest.mark.django_db

ENDPOINT = "/endpoints/"


def deployments_shown(response):
    group = next(g for g in response.context["groups"] if g["kind"].key == "deployments")
    return [(str(d.catalog_model), d.model_version.model_version, d.endpoint)
            for d in group["rows"]]


def test_search_finds_deployments_by_endpoint_words_and_by_model_name(reader_client, deployed):
    by_endpoint = reader_client.get(SEARCH, {"q": "staging"})
    by_model = reader_client.get(SEARCH, {"q": "fraud_scoring"})

    assert deployments_shown(by_endpoint) == [
        ("/abc_corp/claim/doc_classification", 2, STAGING)]
    assert deployments_shown(by_model) == [
        ("/abc_corp/claim/fraud_scoring", 1, "https://fraud.example.com/score")]


def test_endpoints_are_listed_once_with_what_runs_there(reader_client, deployed):
    response = reader_client.get(SEARCH, {"q": "doc_classification", "kind": "endpoints"})

    rows = list(response.context["groups"][0]["rows"])
    assert [(r["endpoint"], r["deployments"], r["running"]) for r in rows] == [
        (PROD, 3, 2), (STAGING, 1, 0)]
    assert 'href="/endpoints/?url=https%3A%2F%2Fabc.execute-api' in response.content.decode()


@pytest.mark.parametrize(("facets", "expected"), [
    ({"deployment_method": "lambda"}, [("/abc_corp/claim/fraud_scoring", 1,
                                        "https://fraud.example.com/score")]),
    ({"environment": "staging"}, [("/abc_corp/claim/doc_classification", 2, STAGING)]),
    ({"status": "retired"}, [("/abc_corp/claim/doc_classification", 2, STAGING),
                             ("/abc_corp/claim/doc_classification", 1, PROD)]),
])
def test_deployment_facets_narrow_and_hide_kinds_they_do_not_apply_to(reader_client, deployed,
                                                                      facets, expected):
    response = reader_client.get(SEARCH, facets)

    assert deployments_shown(response) == expected
    assert shown(response, "models") is None and shown(response, "versions") is None


def test_deployment_facets_count(reader_client, deployed):
    response = reader_client.get(SEARCH, {"kind": "deployments"})

    facets = {f["name"]: {v["label"]: v["count"] for v in f["values"]}
              for f in response.context["facets"]}
    assert facets["deployment_method"] == {"self hosted ECS": 3, "AWS Lambda": 1,
                                           "self hosted EKS": 1}
    assert facets["environment"] == {"prod": 4, "staging": 1}
    assert facets["status"] == {"active": 3, "retired": 2}


def test_a_version_status_hides_deployments_and_a_deployment_status_hides_versions(
        reader_client, deployed):
    assert deployments_shown(reader_client.get(SEARCH, {"status": "active"}))
    assert shown(reader_client.get(SEARCH, {"status": "active"}), "versions") is None
    ready = reader_client.get(SEARCH, {"status": "ready"})
    assert shown(ready, "versions") and "deployments" not in {
        g["kind"].key for g in ready.context["groups"]}


def test_an_unknown_method_or_status_is_a_400(reader_client, deployed):
    for facet in ({"deployment_method": "ftp"}, {"status": "sleeping"}):
        response = reader_client.get(SEARCH, facet)
        assert response.status_code == 400
        assert "One of:" in response.content.decode()


def test_search_csv_lists_deployments_and_endpoints(reader_client, deployed):
    rows = read_csv(reader_client.get(f"{SEARCH}export.csv", {"q": "fraud_scoring"}))

    assert {(r["kind"], r["endpoint"], r["deployment_method"]) for r in rows
            if r["kind"] in ("deployments", "endpoints")} == {
        ("deployments", "https://fraud.example.com/score", "lambda"),
        ("endpoints", "https://fraud.example.com/score", "")}


def test_the_model_page_draws_which_version_served_which_endpoint_when(reader_client,
                                                                       deployed):
    response = reader_client.get(DOC_MODEL, {"range": "all"})

    timeline = response.context["timeline"]["drawn"]
    assert [lane["full"] for lane in timeline["lanes"]] == [PROD, STAGING, f"{PROD} (canary)"]
    assert sorted((rect["label"], rect["running"]) for rect in timeline["rects"]) == [
        ("v1", False), ("v2", False), ("v2", True), ("v3", True)]
    page = response.content.decode()
    assert '<svg class="timeline"' in page
    assert f"doc_classification v2, deployment 3 at {PROD}" in page
    assert "s3://abc_corp/claim/doc_classification/trained/2.tar.gz" in page


def test_the_model_page_history_includes_its_deployments(auditor_client, deployed):
    history = auditor_client.get(DOC_MODEL).context["history"]

    assert "/abc_corp/claim/doc_classification deployment 4" in {c.object_repr for c in history}


def test_the_model_page_costs_the_same_for_more_deployments(reader_client, deployed,
                                                            django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        reader_client.get(DOC_MODEL)
    version = ModelVersion.objects.get(catalog_model=deployed, model_version=3)
    for index in range(10):
        record_deployment(model_version=version, endpoint=f"https://e{index}.example.com",
                          deployment_method="sagemaker", rolling_strategy="rolling",
                          environment="dev", create_at=day(7, index + 1))

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(reader_client.get(DOC_MODEL).context["deployments"]) == 14


def test_the_data_source_page_shows_where_its_models_run_now(reader_client, deployed):
    response = reader_client.get("/data-sources/claim history datawarehouse/")

    assert [(str(d.catalog_model), d.model_version.model_version, d.endpoint)
            for d in response.context["running"]] == [
        ("/abc_corp/claim/doc_classification", 2, PROD),
        ("/abc_corp/claim/doc_classification", 3, PROD),
        ("/abc_corp/claim/fraud_scoring", 1, "https://fraud.example.com/score")]
    assert [d.endpoint for d in reader_client.get("/data-sources/crm/").context["running"]] == []


def test_the_data_source_page_costs_the_same_for_more_running_models(
        reader_client, deployed, django_assert_max_num_queries):
    url = "/data-sources/claim history datawarehouse/"
    with CaptureQueriesContext(connection) as few:
        reader_client.get(url)
    version = ModelVersion.objects.get(catalog_model=deployed, model_version=3)
    for index in range(8):
        record_deployment(model_version=version, endpoint=f"https://e{index}.example.com",
                          deployment_method="ecs", rolling_strategy="rolling")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(reader_client.get(url).context["running"]) == 11


def test_the_endpoint_page_lists_everything_that_served_it_in_order(reader_client, deployed):
    response = reader_client.get(ENDPOINT, {"url": PROD})

    assert response.status_code == 200
    assert [(d.deployment_id, d.model_version.model_version, d.status)
            for d in response.context["deployments"]] == [
        (1, 1, "retired"), (3, 2, "active"), (4, 3, "active")]
    assert [lane["full"] for lane in response.context["timeline"]["drawn"]["lanes"]] == [
        "rollouts", "canary"]
    assert "replaced by 3" in response.content.decode()


def test_the_endpoint_page_costs_the_same_for_a_longer_history(reader_client, deployed,
                                                              django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        reader_client.get(ENDPOINT, {"url": STAGING})
    version = ModelVersion.objects.get(catalog_model=deployed, model_version=3)
    for index in range(6):
        record_deployment(model_version=version, endpoint=STAGING, environment="staging",
                          deployment_method="eks", rolling_strategy="rolling",
                          create_at=day(7, index + 1))

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(reader_client.get(ENDPOINT, {"url": STAGING}).context["deployments"]) == 7


def test_the_endpoint_page_needs_an_endpoint_that_was_deployed_to(reader_client, deployed):
    assert reader_client.get(ENDPOINT).status_code == 400
    assert reader_client.get(ENDPOINT, {"url": "https://nowhere.example.com"}).status_code == 404


def test_the_endpoint_page_needs_a_sign_in(client, deployed):
    response = client.get(ENDPOINT, {"url": PROD})

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_searching_deployments_costs_the_same_for_more_of_them(reader_client, deployed,
                                                               django_assert_max_num_queries):
    def visit():
        for params in ({}, {"q": "doc_classification"}, {"kind": "deployments"},
                       {"kind": "endpoints"}, {"kind": "deployments", "environment": "dev"}):
            assert reader_client.get(SEARCH, params).status_code == 200

    version = ModelVersion.objects.get(catalog_model=deployed, model_version=3)

    def deploy(index):
        record_deployment(model_version=version, endpoint=f"https://e{index}.example.com",
                          deployment_method="sagemaker", rolling_strategy="rolling",
                          environment="dev", create_at=day(7, index + 1))

    deploy(0)
    with CaptureQueriesContext(connection) as few:
        visit()
    for index in range(1, 25):
        deploy(index)

    with django_assert_max_num_queries(len(few.captured_queries)):
        visit()
