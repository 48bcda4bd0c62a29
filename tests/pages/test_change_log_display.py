"""The change log as people read it: numbers they know, labels for codes, linked names,
filters by type name and date, and a paginated history on the model page."""

import datetime

import pytest

from catalog.services import save_catalog_model
from deployments.services import record_deployment, rollback
from mlportal import audit
from registry import services as registry

pytestmark = pytest.mark.django_db

STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"


@pytest.fixture
def rolled_back(example, make_user, grant):
    editor = make_user("editor")
    grant(editor, "/abc_corp")
    with audit.change_context(user=editor, source="api"):
        save_catalog_model(**example("catalog_model"))
        one = registry.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
        two = registry.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
        record_deployment(model_version=one, endpoint=STAGING, deployment_method="eks",
                          rolling_strategy="rolling",
                          create_at=datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC))
        second = record_deployment(model_version=two, endpoint=STAGING,
                                   deployment_method="eks", rolling_strategy="rolling",
                                   create_at=datetime.datetime(2023, 2, 1, tzinfo=datetime.UTC))
        rollback(deployment=second, at=datetime.datetime(2023, 2, 3, tzinfo=datetime.UTC))
    for number in range(8):
        with audit.change_context(user=editor, source="api"):
            registry.update_version(version=one, description=f"retrained {number}")


def test_ids_read_as_deployment_numbers_and_codes_as_words(auditor_client, rolled_back):
    page = auditor_client.get("/changes/", {"object_type": "deployments.deployment"})
    html = page.content.decode()

    assert page.status_code == 200
    assert 'replaced by</span>: <ins>deployment 3</ins>' in html
    assert "<ins>rolled back</ins>" in html and "rolled_back" not in html
    assert "<ins>self hosted EKS</ins>" in html
    assert "2023-02-03 00:00" in html and "2023-02-03T00:00" not in html
    assert f'href="/endpoints/?url={STAGING.replace(":", "%3A").replace("/", "%2F")}"' in html


def test_object_types_are_chosen_by_name_and_dates_from_a_picker(auditor_client, rolled_back):
    page = auditor_client.get("/changes/")
    html = page.content.decode()
    assert '<option value="deployments.deployment">deployment</option>' in html
    assert 'type="date" name="since"' in html

    dated = auditor_client.get("/changes/", {"since": "2000-01-01", "until": "2100-12-31",
                                             "object_type": "registry.modelversion"})
    assert dated.status_code == 200
    assert {change.type_label for change in dated.context["page"]} == {"model version"}


def test_a_models_history_is_paginated(auditor_client, rolled_back):
    first = auditor_client.get("/models/abc_corp/claim/doc_classification/")
    history = first.context["history"]
    assert len(history.object_list) == 10 and history.paginator.num_pages >= 2
    assert "history_page=2" in first.content.decode()

    second = auditor_client.get("/models/abc_corp/claim/doc_classification/",
                                {"history_page": 2})
    assert second.context["history"].number == 2


def test_readers_who_are_not_auditors_see_no_history(reader_client, rolled_back):
    page = reader_client.get("/models/abc_corp/claim/doc_classification/")
    assert "history" not in page.context
    assert reader_client.get("/changes/").status_code == 403
