"""Catalog sources: the API (CRUD, sync action, push webhook) and the admin."""

import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import CatalogModel, CatalogSource, CatalogSync
from catalog.services import save_catalog_source
from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db

SOURCES = "/api/v1/catalog-sources/"
SECRET = "planted-webhook-secret"
CARD = "namespace: /abc_corp/claim\nmodel_name: fraud_scoring\nowner: bob@example.com\n"


@pytest.fixture
def cards(repo):
    repo.write("catalog/fraud_scoring.yaml", CARD)
    repo.write("catalog/risk_pricing.yaml",
               "namespace: /abc_corp/underwriting\nmodel_name: risk_pricing\n")
    repo.commit()
    return repo


@pytest.fixture
def source(cards):
    return save_catalog_source(repository=cards.url, ref="main", subdirectory="catalog",
                               webhook_secret=SECRET)


def signed(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push(api, source, payload, signature=None, event="push"):
    body = json.dumps(payload).encode()
    headers = {"HTTP_X_GITHUB_EVENT": event}
    if signature is not False:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature or signed(body)
    return api.post(f"{SOURCES}{source.pk}/webhook/", body, content_type="application/json",
                    **headers)


class TestCrud:
    def test_anonymous_gets_401(self, api, source):
        assert api.get(SOURCES).status_code == 401
        assert api.post(SOURCES, {"repository": "https://git.example.com/cards.git"},
                        format="json").status_code == 401
        assert api.post(f"{SOURCES}{source.pk}/sync/").status_code == 401

    def test_a_reader_reads_but_cannot_write_or_sync(self, reader_api, source):
        assert reader_api.get(SOURCES).status_code == 200
        assert reader_api.post(SOURCES, {"repository": "https://git.example.com/c.git"},
                               format="json").status_code == 403
        assert reader_api.post(f"{SOURCES}{source.pk}/sync/").status_code == 403
        assert not CatalogModel.objects.exists()

    def test_create_keeps_the_secret_encrypted_and_never_returns_it(self, admin_api):
        response = admin_api.post(SOURCES, {
            "repository": "https://git.example.com/ml/cards.git", "subdirectory": "catalog/",
            "webhook_secret": SECRET,
        }, format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert SECRET not in response.content.decode()
        assert body["ref"] == "HEAD" and body["subdirectory"] == "catalog"
        assert body["has_webhook_secret"] is True
        assert body["webhook_url"] == f"http://testserver{SOURCES}{body['id']}/webhook/"
        assert body["last_synced_commit"] == "" and body["last_synced_at"] is None
        assert CatalogSource.objects.get().webhook_secret == SECRET
        with connection.cursor() as cursor:
            cursor.execute("SELECT webhook_secret FROM catalog_catalogsource")
            assert SECRET not in cursor.fetchone()[0]
        audit = ObjectChange.objects.get(object_repr__startswith="https://git.example.com")
        assert SECRET not in json.dumps(audit.postchange_data)
        assert audit.postchange_data["webhook_secret"] == "********"

    def test_an_update_without_the_secret_keeps_it_and_an_empty_one_removes_it(self, admin_api,
                                                                                source):
        kept = admin_api.patch(f"{SOURCES}{source.pk}/", {"ref": "release"}, format="json")
        assert kept.status_code == 200
        assert kept.json()["has_webhook_secret"] is True
        source.refresh_from_db()
        assert source.webhook_secret == SECRET and source.ref == "release"

        removed = admin_api.patch(f"{SOURCES}{source.pk}/", {"webhook_secret": ""},
                                  format="json")
        assert removed.json()["has_webhook_secret"] is False

    @pytest.mark.parametrize(("field", "value", "message"), [
        ("repository", "not a repository", "Give an https://, ssh://"),
        ("repository", "https://bot:ghp_token@github.com/org/cards.git", "no credentials"),
        ("repository", "https://ghp_token@github.com/org/cards.git", "no credentials"),
        ("repository", "ext::sh -c touch% /tmp/pwned", "Give an https://"),
        ("repository", "--upload-pack=touch /tmp/pwned", "Give an https://"),
        ("repository", "ftp://example.com/cards.git", "Give an https://"),
        ("ref", "--upload-pack=evil", "A ref is a branch, tag or commit id"),
        ("ref", "main..other", "A ref is a branch"),
        ("subdirectory", "/etc", "A subdirectory is a path inside the repository"),
        ("subdirectory", "cards/../..", "A subdirectory is a path inside the repository"),
    ])
    def test_bad_input_gets_a_400_naming_the_field(self, admin_api, field, value, message):
        document = {"repository": "git@github.com:org/cards.git", field: value}

        response = admin_api.post(SOURCES, document, format="json")

        assert response.status_code == 400
        assert message in response.json()[field][0]
        assert not CatalogSource.objects.exists()

    def test_the_same_repository_ref_and_folder_twice_is_a_conflict(self, admin_api, source):
        response = admin_api.post(SOURCES, {"repository": source.repository, "ref": "main",
                                            "subdirectory": "catalog"}, format="json")

        assert response.status_code == 409
        assert "is a catalog source already" in response.json()["repository"][0]

    def test_list_queries_do_not_grow_with_the_page(self, admin_api,
                                                    django_assert_max_num_queries):
        for index in range(20):
            save_catalog_source(repository=f"https://git.example.com/team{index}/cards.git")

        with django_assert_max_num_queries(6) as small:
            assert len(admin_api.get(SOURCES + "?page_size=2").json()["results"]) == 2
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert len(admin_api.get(SOURCES + "?page_size=20").json()["results"]) == 20


class TestSyncAction:
    def test_sync_is_queued_and_its_worker_loads_the_cards(self, admin_api, source, cards,
                                                          superuser, tasks_in_process):
        with tasks_in_process() as callbacks:
            response = admin_api.post(f"{SOURCES}{source.pk}/sync/")
            assert response.status_code == 202, response.json()
            queued = response.json()
            assert (queued["status"], queued["source"], queued["trigger"]) == (
                "queued", source.pk, "api")
            assert not CatalogModel.objects.exists()
        assert callbacks

        sync = CatalogSync.objects.get(pk=queued["id"])
        assert sync.status == "succeeded" and sync.requested_by == superuser
        body = admin_api.get(f"{SOURCES}{source.pk}/").json()
        commit = cards.git("rev-parse", "HEAD")
        assert body["latest_sync"]["id"] == sync.pk
        assert body["latest_sync"]["status"] == "succeeded"
        assert body["latest_sync"]["commit"] == commit
        assert body["last_synced_commit"] == commit
        assert body["last_synced_at"].endswith("Z")
        assert body["last_result"]["counts"] == {
            "created": 2, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}
        assert admin_api.get(f"/api/v1/catalog-syncs/{sync.pk}/").json()["status"] == "succeeded"
        assert admin_api.get(f"{SOURCES}{source.pk}/syncs/").json()["count"] == 1
        model = CatalogModel.objects.get(model_name="fraud_scoring")
        assert model.git_source == {"repository": cards.url, "path": "catalog/fraud_scoring.yaml",
                                    "commit": commit, "in_git": True}
        change = ObjectChange.objects.get(object_repr="/abc_corp/claim/fraud_scoring")
        assert (change.user, change.source) == (superuser, "sync")
        assert change.principal == f"git:{cards.url}@{commit}"

    def test_a_failed_card_is_in_the_result(self, admin_api, source, cards, tasks_in_process):
        cards.write("catalog/bad.yaml", "namespace: /abc\nmodel_name: bad\nowner: nobody\n")
        cards.commit()

        with tasks_in_process():
            response = admin_api.post(f"{SOURCES}{source.pk}/sync/")

        assert response.status_code == 202
        sync = CatalogSync.objects.get(pk=response.json()["id"])
        assert sync.result["failed"] == [
            {"path": "catalog/bad.yaml", "reason": "owner: Enter a valid email address."}]
        assert CatalogModel.objects.count() == 2

    def test_an_unreadable_repository_fails_the_sync_and_is_kept_on_the_source(
            self, admin_api, tmp_path, tasks_in_process):
        source = save_catalog_source(repository=f"file://{tmp_path}/missing")

        with tasks_in_process():
            response = admin_api.post(f"{SOURCES}{source.pk}/sync/")

        assert response.status_code == 202
        sync = CatalogSync.objects.get(pk=response.json()["id"])
        assert sync.status == "failed"
        assert "does not appear to be a git repository" in sync.message
        source.refresh_from_db()
        assert "Cannot read the repository" in source.last_result["error"]

    def test_an_unknown_source_is_a_404(self, admin_api):
        assert admin_api.post(f"{SOURCES}999/sync/").status_code == 404


class TestWebhook:
    def test_a_signed_push_queues_a_sync_without_a_token(self, api, source, cards,
                                                         tasks_in_process):
        with tasks_in_process():
            response = push(api, source, {"ref": "refs/heads/main"})
            assert response.status_code == 202, response.json()
            assert response.json()["status"] == "queued"
            assert response.json()["trigger"] == "webhook"

        sync = CatalogSync.objects.get(pk=response.json()["id"])
        assert sync.result["counts"]["created"] == 2
        assert sync.commit == cards.git("rev-parse", "HEAD")
        source.refresh_from_db()
        assert source.last_synced_commit == cards.git("rev-parse", "HEAD")
        change = ObjectChange.objects.get(object_repr="/abc_corp/claim/fraud_scoring")
        assert change.user is None and change.source == "sync"
        assert change.principal == f"git:{cards.url}@{source.last_synced_commit}"

    def test_a_bad_signature_is_refused(self, api, source):
        response = push(api, source, {"ref": "refs/heads/main"},
                        signature=signed(b"another body"))

        assert response.status_code == 403
        assert "does not match" in response.json()["detail"]
        assert not CatalogModel.objects.exists()

    def test_a_signature_made_with_another_secret_is_refused(self, api, source):
        body = json.dumps({"ref": "refs/heads/main"}).encode()

        response = push(api, source, {"ref": "refs/heads/main"},
                        signature=signed(body, secret="guessed"))

        assert response.status_code == 403

    def test_a_missing_signature_is_a_401(self, api, source):
        response = push(api, source, {"ref": "refs/heads/main"}, signature=False)

        assert response.status_code == 401
        assert "X-Hub-Signature-256" in response.json()["detail"]
        assert not CatalogModel.objects.exists()

    def test_a_source_without_a_secret_accepts_no_webhook(self, api, source):
        source.webhook_secret = ""
        source.save()
        body = json.dumps({}).encode()

        response = push(api, source, {}, signature=signed(body, secret=""))

        assert response.status_code == 403
        assert "no webhook secret" in response.json()["detail"]

    def test_a_ping_is_answered_without_syncing(self, api, source):
        response = push(api, source, {"zen": "Keep it simple."}, event="ping")

        assert response.status_code == 200
        assert response.json() == {"detail": "pong"}
        assert not CatalogModel.objects.exists()

    def test_a_push_to_another_branch_is_ignored(self, api, source):
        response = push(api, source, {"ref": "refs/heads/feature"})

        assert response.status_code == 200
        assert "Ignored: a push to refs/heads/feature" in response.json()["detail"]
        assert not CatalogModel.objects.exists()

    def test_a_source_on_head_follows_the_default_branch(self, api, source, tasks_in_process):
        source.ref = "HEAD"
        source.save()

        with tasks_in_process():
            response = push(api, source, {"ref": "refs/heads/main",
                                          "repository": {"default_branch": "main"}})

        assert response.status_code == 202
        assert CatalogModel.objects.count() == 2

    def test_an_unknown_source_is_a_404(self, api, source):
        body = b"{}"
        response = api.post(f"{SOURCES}{source.pk + 1}/webhook/", body,
                            content_type="application/json",
                            HTTP_X_HUB_SIGNATURE_256=signed(body))

        assert response.status_code == 404


class TestAdmin:
    def test_sync_now_action_queues_a_sync(self, admin_client, source, tasks_in_process):
        changelist = admin_client.get(reverse("admin:catalog_catalogsource_changelist"))
        assert 'value="sync_now"' in changelist.content.decode()

        with tasks_in_process():
            response = admin_client.post(reverse("admin:catalog_catalogsource_changelist"), {
                "action": "sync_now", "_selected_action": [source.pk]}, follow=True)
            assert response.status_code == 200
            message = [str(m) for m in response.context["messages"]][0]
            assert "is queued" in message

        assert CatalogModel.objects.count() == 2
        page = admin_client.get(reverse("admin:catalog_catalogsource_changelist"))
        assert "2 created" in page.content.decode()
        change = admin_client.get(reverse("admin:catalog_catalogsource_change",
                                          args=[source.pk])).content.decode()
        assert "succeeded" in change and "Syncs (latest first)" in change

    def test_the_change_page_never_shows_the_secret_and_keeps_it_when_left_empty(
            self, admin_client, source):
        url = reverse("admin:catalog_catalogsource_change", args=[source.pk])
        page = admin_client.get(url)
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        assert f"{SOURCES}{source.pk}/webhook/" in page.content.decode()

        response = admin_client.post(url, {"repository": source.repository, "ref": "release",
                                           "subdirectory": "catalog", "webhook_secret": ""})

        assert response.status_code == 302
        source.refresh_from_db()
        assert (source.ref, source.webhook_secret) == ("release", SECRET)

    def test_the_secret_can_be_replaced_or_removed(self, admin_client, source):
        url = reverse("admin:catalog_catalogsource_change", args=[source.pk])
        fields = {"repository": source.repository, "ref": "main", "subdirectory": "catalog"}

        admin_client.post(url, {**fields, "webhook_secret": "rotated"})
        source.refresh_from_db()
        assert source.webhook_secret == "rotated"

        admin_client.post(url, {**fields, "webhook_secret": "", "remove_webhook_secret": "on"})
        source.refresh_from_db()
        assert source.webhook_secret == ""

    def test_a_reader_cannot_sync(self, client, reader, source):
        reader.is_staff = True
        reader.save()
        client.force_login(reader)

        response = client.post(reverse("admin:catalog_catalogsource_changelist"), {
            "action": "sync_now", "_selected_action": [source.pk]})

        assert response.status_code == 200
        assert 'value="sync_now"' not in response.content.decode()
        assert not CatalogModel.objects.exists()
