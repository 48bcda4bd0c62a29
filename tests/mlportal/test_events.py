"""Events and their delivery by a real worker process (`manage.py db_worker` on the test
database) to a real HTTP receiver that checks each signature with the Standard Webhooks
reference verification (the `standardwebhooks` package)."""

import json
import os

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from catalog.services import ensure_namespace, save_catalog_model
from deployments.services import change_status, promote, record_deployment, rollback
from mlportal import audit, events
from mlportal.models import Event, WebhookDelivery
from mlportal.services import save_subscription
from mlportal.tasks import sweep
from registry.services import (
    deprecate_version,
    register_version,
    remove_alias,
    set_alias,
    set_tags,
    update_version,
)
from tests.conftest import eventually

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/prod"


def verified(receiver, secret):
    """The payloads the receiver got, each checked against its signature (raises if one
    does not verify)."""
    return [Webhook(secret).verify(request["body"], request["headers"])
            for request in receiver.requests]


def deploy(version, **fields):
    return record_deployment(model_version=version, endpoint=PROD, deployment_method="ecs",
                             rolling_strategy=fields.pop("rolling_strategy", "blue_green"),
                             **fields)


def make_every_change(user):
    """One of each change that emits an event; returns the event types expected, in order."""
    expected = []
    with audit.change_context(user=user, principal="arn:aws:iam::1:role/ci", source="api"):
        model = save_catalog_model(namespace="/team/claims", model_name="fraud",
                                   owner="alice@example.com")
        expected.append(events.CATALOG_MODEL_CREATED)
        save_catalog_model(instance=model, description="Scores claims")
        expected.append(events.CATALOG_MODEL_CHANGED)
        v1 = register_version(namespace="/team/claims", model_name="fraud", user=user)
        v2 = register_version(namespace="/team/claims", model_name="fraud", user=user)
        expected += [events.VERSION_REGISTERED] * 2
        update_version(version=v1, description="first")
        expected.append(events.VERSION_CHANGED)
        set_tags(version=v1, tags={"stage": "candidate"})
        expected.append(events.TAG_CHANGED)
        alias, _ = set_alias(version=v1, name="champion")
        expected.append(events.ALIAS_SET)
        set_alias(version=v2, name="champion")
        expected.append(events.ALIAS_MOVED)
        set_alias(version=v2, name="champion")  # no change: no event
        remove_alias(alias=alias)
        expected.append(events.ALIAS_REMOVED)
        first = deploy(v1)
        expected.append(events.DEPLOYMENT_RECORDED)
        deploy(v2)  # replaces the first, which retires
        expected += [events.DEPLOYMENT_RETIRED, events.DEPLOYMENT_RECORDED]
        canary = deploy(v1, rolling_strategy="canary", traffic_percent=10)
        expected.append(events.DEPLOYMENT_RECORDED)
        promote(deployment=canary)
        expected += [events.DEPLOYMENT_RETIRED, events.DEPLOYMENT_PROMOTED]
        rollback(deployment=canary)  # v2 serves again, as a new deployment
        expected += [events.DEPLOYMENT_RECORDED, events.DEPLOYMENT_ROLLED_BACK]
        pending = deploy(v1, status="pending")
        expected.append(events.DEPLOYMENT_RECORDED)
        change_status(deployment=pending, status="active")
        expected += [events.DEPLOYMENT_RETIRED, events.DEPLOYMENT_ACTIVATED]
        deprecate_version(version=v1)
        expected.append(events.VERSION_DEPRECATED)
        assert first.pk
    return expected


def test_each_change_emits_one_event_that_the_worker_delivers_signed(
        worker, receiver, superuser, worker_log):
    subscription = save_subscription(namespace="", url=receiver.url)
    worker()

    expected = make_every_change(superuser)

    stored = list(Event.objects.order_by("time", "pk").values_list("type", flat=True))
    assert sorted(stored) == sorted(expected)
    eventually(lambda: len(receiver.requests) >= len(expected), timeout=60,
               what=f"{len(expected)} deliveries; worker said:\n{worker_log()}")
    payloads = verified(receiver, subscription.new_secret)
    assert sorted(payload["type"] for payload in payloads) == sorted(expected)
    assert len({payload["id"] for payload in payloads}) == len(expected)
    for request, payload in zip(receiver.requests, payloads, strict=True):
        assert request["headers"]["webhook-id"] == payload["id"]
    created = next(p for p in payloads if p["type"] == events.CATALOG_MODEL_CREATED)
    assert created["namespace"] == "/team/claims"
    assert (created["actor"], created["principal"]) == ("root", "arn:aws:iam::1:role/ci")
    assert created["data"]["model_name"] == "fraud"  # the API's document
    deprecated = next(p for p in payloads if p["type"] == events.VERSION_DEPRECATED)
    assert deprecated["data"]["status"] == "deprecated"
    eventually(lambda: not WebhookDelivery.objects.exclude(status="succeeded").exists(),
               what="every delivery to be logged as succeeded")
    assert WebhookDelivery.objects.filter(attempts=1, response_code=200).count() == len(
        expected)


def test_a_rolled_back_change_leaves_no_event_and_no_delivery(worker, receiver, superuser):
    save_subscription(namespace="", url=receiver.url)
    worker()

    with pytest.raises(RuntimeError), transaction.atomic():
        save_catalog_model(namespace="/team", model_name="never", owner="a@example.com")
        # The event and its dispatch task are written in the change's transaction.
        assert Event.objects.count() == 1 and dispatch_tasks().count() == 1
        raise RuntimeError("the change fails after the event was written")

    assert not Event.objects.exists() and not dispatch_tasks().exists()
    save_catalog_model(namespace="/team", model_name="kept", owner="a@example.com")
    eventually(lambda: receiver.requests, what="the kept change's delivery")
    assert [json.loads(r["body"])["data"]["model_name"] for r in receiver.requests] == ["kept"]


def dispatch_tasks():
    from django_tasks_db.models import DBTaskResult

    from mlportal.tasks import dispatch_event

    return DBTaskResult.objects.filter(task_path=dispatch_event.module_path)


@pytest.mark.django_db
def test_a_change_commits_once_with_its_event_and_dispatch_task(
        superuser, django_capture_on_commit_callbacks):
    save_catalog_model(namespace="/team", model_name="once", owner="a@example.com")
    with django_capture_on_commit_callbacks() as after_commit:
        version = register_version(
            namespace="/team", model_name="once", user=superuser,
            artifacts=[{"name": "model", "uri": "s3://bucket/once/1.tar.gz"}],
            tags={"stage": "candidate", "framework": "sklearn"})

    assert not after_commit  # nothing left to do (and to fail) once the change committed
    event = Event.objects.get(type=events.VERSION_REGISTERED)
    [task] = dispatch_tasks().filter(args_kwargs__args=[str(event.pk)])
    assert task.status == "READY"
    # The registration's event, built from the version at hand, shows what a fresh read
    # of the committed version shows.
    assert event.document["model_version"] == version.model_version == 1
    assert event.document == events._json(events.document_of(version, fresh=True))


def test_a_subscription_gets_the_events_of_its_namespace_and_below_of_its_types(
        worker, receiver):
    ensure_namespace("/team")
    subscription = save_subscription(
        namespace="/team", url=receiver.url, event_types=[events.CATALOG_MODEL_CREATED])
    worker()

    save_catalog_model(namespace="/team/claims", model_name="below", owner="a@example.com")
    save_catalog_model(namespace="/teams", model_name="beside", owner="a@example.com")
    model = save_catalog_model(namespace="/team", model_name="here", owner="a@example.com")
    save_catalog_model(instance=model, description="changed: another type")

    eventually(lambda: len(receiver.requests) >= 2, what="two deliveries")
    eventually(lambda: Event.objects.filter(dispatched_at__isnull=True).count() == 0,
               what="every event dispatched")
    names = sorted(p["data"]["model_name"] for p in verified(receiver, subscription.new_secret))
    assert names == ["below", "here"]


def test_retries_with_backoff_until_the_receiver_recovers(worker, receiver, superuser):
    receiver.statuses = [503, 500, 200]
    subscription = save_subscription(namespace="", url=receiver.url)
    worker()

    save_catalog_model(namespace="/team", model_name="retried", owner="a@example.com")

    delivery = eventually(lambda: WebhookDelivery.objects.filter(status="succeeded").first(),
                          what="the delivery to succeed at its third attempt")
    assert (delivery.attempts, delivery.response_code) == (3, 200)
    assert len(receiver.requests) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    verified(receiver, subscription.new_secret)  # every attempt is signed
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0 and subscription.active


def test_a_receiver_that_keeps_failing_fails_the_deliveries_and_pauses_its_subscription(
        worker, receiver, admin_api):
    receiver.statuses = [500]
    subscription = save_subscription(namespace="", url=receiver.url)
    worker(MLPORTAL_WEBHOOKS_RETRY_FOR="0.5", MLPORTAL_WEBHOOKS_PAUSE_AFTER_FAILED_DELIVERIES="2")

    for name in ("one", "two"):
        save_catalog_model(namespace="/team", model_name=name, owner="a@example.com")

    eventually(lambda: WebhookDelivery.objects.filter(status="failed").count() == 2,
               what="both deliveries to fail for good")
    subscription.refresh_from_db()
    assert not subscription.active
    assert "2 deliveries in a row failed" in subscription.paused_reason
    assert "answered 500" in subscription.paused_reason
    document = admin_api.get(f"/api/v1/webhooks/{subscription.pk}/").json()
    assert document["active"] is False and document["paused_reason"] == subscription.paused_reason
    log = admin_api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").json()
    assert {row["status"] for row in log["results"]} == {"failed"}
    assert all(row["attempts"] >= 1 and row["response_code"] == 500 for row in log["results"])

    # Its owner fixes the receiver, resumes the subscription and redelivers.
    receiver.statuses = [200]
    assert admin_api.patch(f"/api/v1/webhooks/{subscription.pk}/", {"active": True},
                           format="json").status_code == 200
    failed = log["results"][0]["id"]
    again = admin_api.post(f"/api/v1/webhooks/{subscription.pk}/deliveries/{failed}/redeliver/")
    assert again.status_code == 202
    eventually(lambda: WebhookDelivery.objects.filter(pk=again.json()["id"],
                                                      status="succeeded").exists(),
               what="the redelivery")
    subscription.refresh_from_db()
    assert subscription.active and subscription.paused_reason == ""


def test_a_test_event_reaches_the_receiver_signed(worker, receiver, admin_api):
    created = admin_api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()
    worker()

    response = admin_api.post(f"/api/v1/webhooks/{created['id']}/test/")

    assert response.status_code == 202 and response.json()["status"] == "pending"
    eventually(lambda: receiver.requests, what="the test event")
    [payload] = verified(receiver, created["secret"])
    assert payload["type"] == "webhook.test"


def test_an_event_whose_enqueue_was_lost_is_delivered_after_the_sweep(
        worker, receiver, settings, monkeypatch):
    subscription = save_subscription(namespace="", url=receiver.url)
    # A crash between the commit and the enqueue: the event is stored, no task is queued.
    monkeypatch.setattr(events, "enqueue_dispatch", lambda event_id, **options: None)
    save_catalog_model(namespace="/team", model_name="swept", owner="a@example.com")
    worker()
    assert Event.objects.get().dispatched_at is None

    settings.MLPORTAL_OUTBOX_SWEEP_SECONDS = 0
    assert sweep() == {"events": 1, "deliveries": 0}

    eventually(lambda: receiver.requests, what="the swept event's delivery")
    [payload] = verified(receiver, subscription.new_secret)
    assert payload["data"]["model_name"] == "swept"


def test_events_wait_while_no_worker_runs_and_are_delivered_when_one_starts(
        worker, receiver):
    subscription = save_subscription(namespace="", url=receiver.url)

    save_catalog_model(namespace="/team", model_name="waiting", owner="a@example.com")

    assert Event.objects.get().dispatched_at is None and not receiver.requests
    worker()
    eventually(lambda: receiver.requests, what="the waiting event's delivery")
    [payload] = verified(receiver, subscription.new_secret)
    assert payload["data"]["model_name"] == "waiting"


@pytest.mark.django_db
def test_the_sweep_queues_itself_once(settings):
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from mlportal.tasks import schedule_sweep, sweep_outbox

    settings.MLPORTAL_OUTBOX_SWEEP_SECONDS = 60
    assert sweep_outbox.call() == {"events": 0, "deliveries": 0}
    schedule_sweep()
    call_command("sweep_outbox", stdout=open(os.devnull, "w"))  # noqa: SIM115

    [queued] = DBTaskResult.objects.filter(task_path=sweep_outbox.module_path)
    assert queued.status == "READY" and queued.args_kwargs == {"args": [], "kwargs": {}}
    assert (queued.run_after - queued.enqueued_at).total_seconds() > 55


@pytest.mark.django_db
def test_changing_a_version_in_the_admin_emits_its_event(admin_client, superuser):
    from django.urls import reverse

    save_catalog_model(namespace="/team", model_name="m", owner="a@example.com")
    version = register_version(namespace="/team", model_name="m", user=superuser)
    page = admin_client.get(reverse("admin:registry_modelversion_change", args=[version.pk]))
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}

    admin_client.post(reverse("admin:registry_modelversion_change", args=[version.pk]), {
        **data, "description": "described in the admin", "status": "deprecated",
        **{key: value for key, value in _inline_management(page).items()}})

    [event] = Event.objects.filter(type__startswith="version.").exclude(
        type=events.VERSION_REGISTERED)
    assert event.type == events.VERSION_DEPRECATED
    assert event.document["description"] == "described in the admin"


def _inline_management(page):
    """The management forms of a change page's inlines, as a browser posts them back."""
    data = {}
    for formset in page.context.get("inline_admin_formsets", []):
        management = formset.formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial) or 0
    return data


@pytest.mark.django_db
def test_creating_and_changing_a_model_in_the_admin_emits_one_event_each(admin_client):
    from django.urls import reverse

    from catalog.models import CatalogModel

    namespace = ensure_namespace("/team")
    document = {
        "namespace": namespace.pk, "model_name": "from_admin", "owner": "a@example.com",
        "url": "", "description": "", "inference_input_description": "",
        "inference_input_schema": "{}", "inference_output_description": "",
        "inference_output_schema": "{}",
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    }
    added = admin_client.post(reverse("admin:catalog_catalogmodel_add"), document)
    assert added.status_code == 302, added.context["adminform"].form.errors
    model = CatalogModel.objects.get(model_name="from_admin")
    changed = admin_client.post(reverse("admin:catalog_catalogmodel_change", args=[model.pk]),
                                document | {"description": "described in the admin"})
    assert changed.status_code == 302

    assert list(Event.objects.order_by("time").values_list("type", flat=True)) == [
        events.CATALOG_MODEL_CREATED, events.CATALOG_MODEL_CHANGED]
    assert Event.objects.get(type=events.CATALOG_MODEL_CHANGED).document["description"] == (
        "described in the admin")


def test_two_workers_deliver_each_event_once(worker, receiver):
    subscription = save_subscription(namespace="", url=receiver.url)
    for index in range(20):
        save_catalog_model(namespace="/team", model_name=f"m{index}", owner="a@example.com")

    worker()
    worker()

    eventually(lambda: WebhookDelivery.objects.filter(status="succeeded").count() == 20,
               timeout=60, what="20 deliveries")
    ids = [payload["id"] for payload in verified(receiver, subscription.new_secret)]
    assert len(ids) == len(set(ids)) == 20
    assert WebhookDelivery.objects.count() == 20


@pytest.mark.django_db
def test_a_model_tag_change_emits_one_event_and_an_unchanged_tag_none():
    from registry.models import ModelTag
    from registry.services import remove_model_tag, set_model_tag

    model = save_catalog_model(namespace="/team", model_name="tagged", owner="a@example.com")
    set_model_tag(catalog_model=model, key="team", value="claims")
    set_model_tag(catalog_model=model, key="team", value="claims")
    remove_model_tag(tag=ModelTag.objects.get())

    changes = Event.objects.filter(type=events.TAG_CHANGED)
    assert changes.count() == 2
    assert {event.object_type for event in changes} == {"catalog.catalogmodel"}
