"""Links to edit in the admin for those who may, flagged deprecated versions, and a model
with too few versions to compare (the comparison and lineages: test_compare.py)."""

import datetime

import pytest

from catalog.services import save_catalog_model
from deployments.services import record_deployment
from registry import services as registry

pytestmark = pytest.mark.django_db

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
COMPARE = "/compare/"
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
