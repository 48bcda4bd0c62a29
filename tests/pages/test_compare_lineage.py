"""Two versions side by side, a model's lineage, copy buttons, and links to edit in the
admin for those who may."""

import datetime

import pytest

from catalog.services import save_catalog_model
from deployments.services import record_deployment
from registry import services as registry

pytestmark = pytest.mark.django_db

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
COMPARE = "/compare/"
LINEAGE = "/lineage/"
MODEL = "/abc_corp/claim/doc_classification"


@pytest.fixture
def versions(example):
    save_catalog_model(**example("catalog_model"))
    one = registry.register_version(
        namespace="/abc_corp/claim", model_name="doc_classification",
        artifacts=[{"name": "trained", "uri": "s3://abc/trained/1.tar.gz"}],
        tags={"accuracy": "0.91", "framework": "sklearn"})
    two = registry.register_version(
        namespace="/abc_corp/claim", model_name="doc_classification",
        artifacts=[{"name": "trained", "uri": "s3://abc/trained/2.tar.gz"}],
        tags={"accuracy": "0.95", "framework": "sklearn"})
    record_deployment(model_version=two, endpoint=PROD, deployment_method="ecs",
                      rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC))
    return one, two


def test_two_versions_side_by_side(reader_client, versions):
    page = reader_client.get(COMPARE, {"model": MODEL, "a": "1", "b": "v2"})

    assert page.status_code == 200
    assert page.context["left"].model_version == 1 and page.context["right"].model_version == 2
    metric = page.context["metric_rows"][0]
    assert metric["key"] == "accuracy" and round(metric["delta"], 2) == 0.04
    assert [row["same"] for row in page.context["tag_rows"]] == [False, True]
    assert not page.context["artifact_rows"][0]["same"]
    html = page.content.decode()
    assert 'data-copy="s3://abc/trained/2.tar.gz"' in html
    assert [len(run) for run in page.context["runs"]] == [0, 1]


def test_without_numbers_the_two_latest_are_compared(reader_client, versions):
    page = reader_client.get(COMPARE, {"model": MODEL})
    assert (page.context["left"].model_version, page.context["right"].model_version) == (1, 2)


@pytest.mark.parametrize("params, field", [({"a": "9"}, "a"), ({"b": "two"}, "b")])
def test_a_version_the_model_lacks_is_a_400_naming_it(reader_client, versions, params, field):
    page = reader_client.get(COMPARE, {"model": MODEL, **params})
    assert page.status_code == 400
    assert field in page.context["errors"]


def test_an_unknown_model_is_a_404(reader_client, versions):
    assert reader_client.get(COMPARE, {"model": "/abc_corp/claim/nothing"}).status_code == 404
    assert reader_client.get(LINEAGE, {"model": ""}).status_code == 404


@pytest.mark.parametrize("url", [COMPARE, LINEAGE])
def test_anonymous_visitors_sign_in_first(client, versions, url):
    response = client.get(url, {"model": MODEL})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_lineage_runs_from_data_sources_to_endpoints(reader_client, versions):
    page = reader_client.get(LINEAGE, {"model": MODEL})

    assert page.status_code == 200
    assert [source.name for source in page.context["sources"]] == [
        "claim history datawarehouse", "more data source"]
    assert [(v.model_version, serving) for v, serving in page.context["versions"]] == [
        (2, [PROD]), (1, [])]
    assert page.context["endpoints"] == [{"endpoint": PROD, "now": [2], "before": []}]


def test_edit_links_are_for_those_who_may_edit(client, make_user, grant, versions):
    reader = make_user("reader")
    client.force_login(reader)
    page = client.get(f"/models{MODEL}/").content.decode()
    assert "Edit in the admin" not in page and "/admin/registry/modelversion/" not in page

    editor = make_user("editor")
    grant(editor, "/abc_corp")
    client.force_login(editor)
    page = client.get(f"/models{MODEL}/").content.decode()
    assert "Edit in the admin" in page
    assert f"/admin/registry/modelversion/{versions[0].pk}/change/" in page


def test_a_deprecated_version_still_in_use_is_flagged_on_the_model_page(reader_client,
                                                                        versions):
    registry.set_alias(version=versions[1], name="champion")
    registry.deprecate_version(version=versions[1])

    html = reader_client.get(f"/models{MODEL}/").content.decode()

    assert "still in use" in html
    assert f"doc_classification v2 is deprecated but still serves {PROD}." in html


def test_a_model_with_one_version_has_nothing_to_compare(reader_client, example):
    save_catalog_model(**example("catalog_model"))
    registry.register_version(namespace="/abc_corp/claim", model_name="doc_classification")

    page = reader_client.get(COMPARE, {"model": MODEL})

    assert page.status_code == 200
    assert "nothing to compare yet" in page.content.decode()
