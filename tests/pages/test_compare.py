"""Two versions side by side, copy buttons for artifact URIs, and lineages
(data source -> model -> version -> endpoint)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.services import record_deployment
from mlportal import access, audit
from registry.models import Artifact, ModelVersion, Tag
from tests.helpers import PROD

pytestmark = pytest.mark.django_db

COMPARE, LINEAGE = "/compare/", "/lineage/"
DOC = "/abc_corp/claim/doc_classification"


@pytest.fixture
def compared(deployed, superuser):
    """v1 and v2 of doc_classification with artifacts and tags that partly differ: v1 runs
    nowhere now, v2 serves PROD, v3 is a canary beside it."""
    versions = {v.model_version: v for v in deployed.versions.all()}
    with audit.change_context(user=superuser, source="api"):
        Artifact.objects.create(version=versions[1], name="trained",
                                uri="s3://abc_corp/claim/doc_classification/trained/1.tar.gz",
                                storage_key="k1", size=2048, sha256="a" * 64)
        Artifact.objects.create(version=versions[1], name="vocabulary",
                                uri="s3://abc_corp/claim/doc_classification/vocabulary/1.txt")
        for version, tags in ((1, {"accuracy": "0.91", "framework": "sklearn", "f1": "0.8",
                                   "dataset": "claims-2022q4"}),
                              (2, {"accuracy": "0.934", "framework": "sklearn", "f1": "0.8",
                                   "notes": "nan"})):
            for key, value in tags.items():
                Tag.objects.create(version=versions[version], key=key, value=value)
    return versions


def rows(page, name):
    return {row.name: row for row in page.context[name]}


def test_two_versions_are_compared_side_by_side(reader_client, compared):
    page = reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "v2"})

    assert page.status_code == 200
    assert (page.context["left"].model_version, page.context["right"].model_version) == (1, 2)
    artifacts = rows(page, "artifact_rows")
    assert artifacts["trained"].state == "different" and artifacts["trained"].note == (
        "different URI")
    assert artifacts["vocabulary"].state == "only-a"
    metrics = rows(page, "metric_rows")
    assert metrics["accuracy"].delta_text == "+0.024" and metrics["accuracy"].differs
    assert metrics["f1"].state == "same" and metrics["f1"].delta == 0
    tags = rows(page, "tag_rows")
    # "nan" is not a metric: only finite numbers are.
    assert {key: row.state for key, row in tags.items()} == {
        "dataset": "only-a", "framework": "same", "notes": "only-b"}
    assert page.context["description_row"].differs
    html = page.content.decode()
    assert "▲ +0.024" in html and "= no change" in html
    assert html.count('class="copy"') == 3
    assert 'data-copy="s3://abc_corp/claim/doc_classification/vocabulary/1.txt"' in html
    assert "these are the model's, the same for both" in html


def test_metrics_read_as_people_write_them(reader_client, compared, superuser):
    with audit.change_context(user=superuser, source="api"):
        for version, loss in ((1, "1e-3"), (3, "0.0005")):
            Tag.objects.create(version=compared[version], key="loss", value=loss)
        Tag.objects.create(version=compared[3], key="accuracy", value=" 0.9 ")

    page = reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "3"})

    metrics = rows(page, "metric_rows")
    assert metrics["loss"].delta_text == "-0.0005" and metrics["accuracy"].delta_text == "-0.01"
    assert "▼ -0.0005" in page.content.decode()


def test_where_each_version_runs_now(reader_client, compared):
    page = reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "2"})

    v1_now, v2_now = page.context["serving"]
    assert v1_now == [] and [(d.endpoint, d.deployment_id) for d in v2_now] == [(PROD, 3)]
    html = page.content.decode()
    assert "serves no endpoint now" in html
    assert f"{DOC}/#deployment-3".replace("/abc", "/models/abc", 1) in html
    assert "since 2023-03-01 00:00 UTC" in html


def test_uploaded_artifacts_with_the_same_content_are_the_same(reader_client, compared,
                                                               superuser):
    with audit.change_context(user=superuser, source="api"):
        Artifact.objects.create(version=compared[3], name="trained", storage_key="k3",
                                uri="s3://abc_corp/claim/doc_classification/trained/3.tar.gz",
                                size=2048, sha256="a" * 64)

    page = reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "3"})

    trained = rows(page, "artifact_rows")["trained"]
    assert trained.state == "same" and trained.note == "same content (sha256)"


def test_without_versions_the_picker_offers_the_two_latest(reader_client, compared):
    page = reader_client.get(COMPARE, {"model": DOC})

    assert page.status_code == 200 and "left" not in page.context
    assert (page.context["a"], page.context["b"]) == (2, 3)
    html = page.content.decode()
    assert '<option value="2" selected>' in html and '<option value="3" selected>' in html


@pytest.mark.parametrize(("params", "message"), [
    ({"a": "1"}, "Choose version b"),
    ({"a": "two", "b": "1"}, "a=&#x27;two&#x27; is not a version number"),
    ({"a": "1", "b": "9"}, "/abc_corp/claim/doc_classification has no version 9 (b=9)"),
    ({"a": "-1", "b": "2"}, "is not a version number"),
    ({"a": "99999999999999999999", "b": "2"}, "is not a version number"),
])
def test_bad_versions_are_a_400_that_says_what_is_wrong(reader_client, compared, params,
                                                        message):
    page = reader_client.get(COMPARE, {"model": DOC, **params})

    assert page.status_code == 400
    assert message in page.content.decode()
    assert "compare-table" not in page.content.decode()


def test_an_unnamed_model_is_a_400_and_an_unknown_one_a_404(reader_client, compared):
    assert reader_client.get(COMPARE).status_code == 400
    assert "Name the model" in reader_client.get(COMPARE, {"a": "1"}).content.decode()
    assert reader_client.get(COMPARE, {"model": "/abc_corp/claim/nothing"}).status_code == 404
    assert reader_client.get(COMPARE, {"model": "/nothing", "a": "1"}).status_code == 404
    assert reader_client.get(LINEAGE).status_code == 400
    assert reader_client.get(LINEAGE, {"model": "/abc_corp/nothing"}).status_code == 404
    assert reader_client.get(LINEAGE, {"data_source": "nothing"}).status_code == 404


@pytest.mark.parametrize("url", [f"{COMPARE}?model={DOC}&a=1&b=2", f"{LINEAGE}?model={DOC}",
                                 f"{LINEAGE}?data_source=crm"])
def test_anonymous_visitors_are_sent_to_sign_in(client, compared, url):
    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_pages_read_through_the_access_rule(reader_client, compared, monkeypatch):
    """What the rule hides (here: every deployment, and version 2) the pages do not show."""
    restrict = access.restrict

    def hiding(queryset, user, *args, **kwargs):
        queryset = restrict(queryset, user, *args, **kwargs)
        if queryset.model._meta.model_name == "deployment":
            return queryset.none()
        if queryset.model._meta.model_name == "modelversion":
            return queryset.exclude(model_version=2)
        return queryset

    monkeypatch.setattr(access, "restrict", hiding)

    assert reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "2"}).status_code == 400
    page = reader_client.get(COMPARE, {"model": DOC, "a": "1", "b": "3"})
    assert page.context["serving"] == [[], []]
    lineage = reader_client.get(LINEAGE, {"model": DOC}).context["lineages"][0]
    assert lineage.versions == [] and lineage.idle == [3, 1]


def test_an_inactive_user_is_not_let_in(client, compared, reader):
    client.force_login(reader)
    reader.is_active = False
    reader.save()

    assert client.get(COMPARE, {"model": DOC, "a": "1", "b": "2"}).status_code == 302


def test_the_lineage_of_a_model_runs_from_its_data_sources_to_its_endpoints(reader_client,
                                                                         compared):
    page = reader_client.get(LINEAGE, {"model": DOC})

    assert page.status_code == 200
    (lineage,) = page.context["lineages"]
    assert [source.name for source in lineage.sources] == [
        "claim history datawarehouse", "more data source"]
    assert [(version.model_version, [(d.endpoint, d.deployment_id) for d in deployments])
            for version, deployments in lineage.versions] == [(3, [(PROD, 4)]), (2, [(PROD, 3)])]
    assert lineage.idle == [1]
    html = page.content.decode()
    assert 'href="/data-sources/claim%20history%20datawarehouse/"' in html
    assert 'href="/endpoints/?url=https%3A%2F%2Fabc.execute-api' in html
    assert "canary 10%" in html


def test_a_lineage_names_twenty_idle_versions_and_counts_the_rest(reader_client, compared,
                                                                  superuser):
    with audit.change_context(user=superuser, source="api"):
        ModelVersion.objects.bulk_create(
            ModelVersion(catalog_model=compared[1].catalog_model, model_version=number)
            for number in range(4, 30))

    page = reader_client.get(LINEAGE, {"model": DOC})

    (lineage,) = page.context["lineages"]
    assert len(lineage.idle) == 27 and lineage.idle_shown[:2] == [29, 28]
    assert "and 7 more" in page.content.decode()


def test_the_lineage_of_a_data_source_covers_every_model_it_feeds(reader_client, compared):
    page = reader_client.get(LINEAGE, {"data_source": "claim history datawarehouse"})

    assert page.status_code == 200
    models = {str(lineage.model): lineage for lineage in page.context["lineages"]}
    assert sorted(models) == [DOC, "/abc_corp/claim/fraud_scoring"]
    fraud = models["/abc_corp/claim/fraud_scoring"]
    assert [s.name for s in fraud.also_fed_by] == ["policy events"]
    assert [(v.model_version, [d.endpoint for d in ds]) for v, ds in fraud.versions] == [
        (1, ["https://fraud.example.com/score"])]
    assert "deprecated, still serving" in page.content.decode()


def test_the_lineage_reads_in_as_many_queries_however_many_versions(reader_client, compared,
                                                                     superuser):
    url = f"{LINEAGE}?data_source=claim history datawarehouse"
    with CaptureQueriesContext(connection) as before:
        reader_client.get(url)
    with audit.change_context(user=superuser, source="api"):
        for number in (4, 5, 6):
            version = ModelVersion.objects.create(catalog_model=compared[1].catalog_model,
                                                  model_version=number)
            record_deployment(model_version=version, endpoint=f"https://e{number}.example.com",
                              deployment_method="ecs", rolling_strategy="rolling")
    with CaptureQueriesContext(connection) as after:
        page = reader_client.get(url)

    assert len(page.context["lineages"][0].versions) == 5
    assert len(after.captured_queries) == len(before.captured_queries) <= 12


def test_a_comparison_reads_in_as_many_queries_however_many_versions_and_tags(
        reader_client, compared, superuser):
    url = f"{COMPARE}?model={DOC}&a=1&b=2"
    with CaptureQueriesContext(connection) as before:
        reader_client.get(url)
    with audit.change_context(user=superuser, source="api"):
        for number in range(4, 14):
            ModelVersion.objects.create(catalog_model=compared[1].catalog_model,
                                        model_version=number)
        for index in range(10):
            Tag.objects.create(version=compared[2], key=f"metric{index}", value=str(index))
            Artifact.objects.create(version=compared[2], name=f"file{index}",
                                    uri=f"s3://abc/file{index}")
    with CaptureQueriesContext(connection) as after:
        page = reader_client.get(url)

    assert len(page.context["tag_rows"]) == 13 and len(page.context["artifact_rows"]) == 12
    assert len(after.captured_queries) == len(before.captured_queries) <= 12


def test_the_model_and_data_source_pages_link_to_comparison_and_lineage(reader_client, compared):
    model = reader_client.get(f"/models{DOC}/").content.decode()
    source = reader_client.get("/data-sources/claim history datawarehouse/").content.decode()

    assert 'href="/compare/?model=/abc_corp/claim/doc_classification"' in model
    assert 'href="/lineage/?model=/abc_corp/claim/doc_classification"' in model
    assert 'data-copy="s3://abc_corp/claim/doc_classification/trained/1.tar.gz"' in model
    assert ('href="/compare/?model=/abc_corp/claim/doc_classification&amp;a=2&amp;b=3"'
            in model) and "compare with v0" not in model
    assert 'href="/lineage/?data_source=claim%20history%20datawarehouse"' in source
