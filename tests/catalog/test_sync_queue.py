"""Git syncs on the task queue, run by a real worker process: the push webhook answers at
once with the queued sync; two syncs of one source never run at once."""

import hashlib
import hmac
import json
import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import CatalogModel, CatalogSync
from catalog.services import save_catalog_source
from mlportal.models import Event
from tests.conftest import eventually

SECRET = "planted-webhook-secret"


@pytest.fixture
def source(repo):
    repo.write("catalog/fraud.yaml", "namespace: /team\nmodel_name: fraud\nowner: a@b.com\n")
    repo.commit()
    return save_catalog_source(repository=repo.url, ref="main", subdirectory="catalog",
                               webhook_secret=SECRET)


def push(api, source):
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return api.post(f"/api/v1/catalog-sources/{source.pk}/webhook/", body,
                    content_type="application/json", HTTP_X_GITHUB_EVENT="push",
                    HTTP_X_HUB_SIGNATURE_256=signature)


def test_a_push_answers_202_at_once_and_the_worker_syncs(worker, api, source, worker_log):
    worker()

    response = push(api, source)

    assert response.status_code == 202
    sync_id = response.json()["id"]
    sync = eventually(lambda: CatalogSync.objects.filter(pk=sync_id, status="succeeded").first(),
                      what=f"the sync to succeed; worker said:\n{worker_log()}")
    assert sync.started_at and sync.finished_at and "1 created" in sync.message
    assert CatalogModel.objects.filter(model_name="fraud", in_git=True).exists()
    assert Event.objects.filter(type="catalog_sync.finished",
                                object_id=str(sync_id)).count() == 1
    assert Event.objects.filter(type="catalog_model.created").count() == 1


def test_a_sync_triggered_while_another_runs_waits_for_it(worker, api, admin_api, source, repo,
                                                          worker_log):
    # Another worker is syncing this source (its row says so) when the push arrives.
    running = CatalogSync.objects.create(source=source, status="running",
                                         started_at=timezone.now(), trigger="api")
    worker()

    response = push(api, source)
    assert response.status_code == 202
    queued = response.json()["id"]
    # A second push while the first is still queued is served by the same sync.
    assert push(api, source).json()["id"] == queued

    time.sleep(1.5)  # the worker has tried (and retried) by now: it must not start it
    assert CatalogSync.objects.get(pk=queued).status == "queued", worker_log()
    assert not CatalogModel.objects.exists()
    latest = admin_api.get(f"/api/v1/catalog-sources/{source.pk}/").json()["latest_sync"]
    assert (latest["id"], latest["status"]) == (queued, "queued")

    CatalogSync.objects.filter(pk=running.pk).update(status="succeeded",
                                                      finished_at=timezone.now())

    eventually(lambda: CatalogSync.objects.filter(pk=queued, status="succeeded").exists(),
               what=f"the queued sync to run once the other finished:\n{worker_log()}")
    assert CatalogModel.objects.filter(model_name="fraud").exists()


def test_a_failed_sync_says_why_and_emits_its_event(worker, admin_api, tmp_path, worker_log):
    source = save_catalog_source(repository=f"file://{tmp_path}/missing")
    worker()

    response = admin_api.post(f"/api/v1/catalog-sources/{source.pk}/sync/")

    assert response.status_code == 202
    sync = eventually(lambda: CatalogSync.objects.filter(pk=response.json()["id"],
                                                         status="failed").first(),
                      what=f"the sync to fail; worker said:\n{worker_log()}")
    assert "Cannot read" in sync.message
    assert Event.objects.filter(type="catalog_sync.failed").count() == 1


def test_two_syncs_of_one_source_cannot_both_be_running(transactional_db, source):
    CatalogSync.objects.create(source=source, status="running")

    with pytest.raises(IntegrityError), transaction.atomic():
        CatalogSync.objects.create(source=source, status="running")

    CatalogSync.objects.create(source=source, status="queued")  # waiting is fine


def test_listing_syncs_costs_the_same_queries_whatever_the_page_size(
        db, admin_api, source, django_assert_max_num_queries, superuser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(count):
        for _ in range(count):
            CatalogSync.objects.create(source=source, status="succeeded", requested_by=superuser)

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert admin_api.get("/api/v1/catalog-syncs/").json()["count"] == 2
        admin_api.get("/api/v1/catalog-sources/")
    add(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_api.get("/api/v1/catalog-syncs/").json()["count"] == 8
        admin_api.get("/api/v1/catalog-sources/")
