"""/api/v1/webhooks/ and the admin's webhook pages: who may manage subscriptions, the secret
shown once, bad input named, the delivery log and its actions."""

import pytest
from django.urls import reverse

from catalog.services import ensure_namespace
from mlportal.models import WebhookDelivery, WebhookSubscription
from mlportal.secrets import MASK
from mlportal.services import save_subscription, send_test_event

pytestmark = pytest.mark.django_db

HOOKS = "/api/v1/webhooks/"
URL = "https://hooks.example.com/mlportal"


@pytest.fixture
def owner(make_user, grant):
    user = make_user("olga")
    grant(user, "/team", role="owner")
    return user


@pytest.fixture
def editor(make_user, grant):
    user = make_user("eddie")
    grant(user, "/team", role="editor")
    return user


@pytest.fixture
def subscription(owner):
    return save_subscription(namespace="/team", url=URL, user=owner)


def test_anonymous_gets_401(api, subscription):
    assert api.get(HOOKS).status_code == 401
    assert api.post(HOOKS, {"namespace": "/team", "url": URL}, format="json").status_code == 401
    assert api.get(f"{HOOKS}{subscription.pk}/deliveries/").status_code == 401
    assert api.post(f"{HOOKS}{subscription.pk}/test/").status_code == 401


def test_an_owner_subscribes_and_sees_the_secret_once(client_for, owner):
    api = client_for(owner)

    created = api.post(HOOKS, {"namespace": "/team/claims", "url": URL,
                               "event_types": ["version.registered", "alias.moved"]},
                       format="json")

    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = WebhookSubscription.objects.get()
    assert stored.secret == secret and stored.created_by == owner
    assert stored.namespace.path == "/team/claims"  # created on first use below the grant
    read = api.get(f"{HOOKS}{stored.pk}/").json()
    assert read["secret"] == MASK
    assert read["event_types"] == ["version.registered", "alias.moved"]
    listed = api.get(HOOKS).json()
    assert listed["count"] == 1 and listed["results"][0]["secret"] == MASK
    # Sending back what was read keeps the secret.
    assert api.put(f"{HOOKS}{stored.pk}/", read | {"description": "CI"},
                   format="json").status_code == 200
    stored.refresh_from_db()
    assert stored.secret == secret and stored.description == "CI"


def test_editors_and_owners_elsewhere_may_not_see_or_manage_them(client_for, editor, make_user,
                                                                  grant, subscription):
    elsewhere = make_user("otto")
    grant(elsewhere, "/other", role="owner")
    for user in (editor, elsewhere):
        api = client_for(user)
        assert api.post(HOOKS, {"namespace": "/team", "url": URL},
                        format="json").status_code == 403
        assert api.get(f"{HOOKS}{subscription.pk}/").status_code in (403, 404)
        assert api.post(f"{HOOKS}{subscription.pk}/test/").status_code in (403, 404)
    assert client_for(editor).get(HOOKS).status_code == 403
    assert client_for(elsewhere).get(HOOKS).json()["count"] == 0


def test_only_superusers_subscribe_to_every_namespace(client_for, owner, admin_api):
    refused = client_for(owner).post(HOOKS, {"url": URL}, format="json")
    assert refused.status_code == 403
    assert "Only superusers" in refused.json()["detail"]

    created = admin_api.post(HOOKS, {"url": URL, "namespace": None}, format="json")
    assert created.status_code == 201
    assert created.json()["namespace"] is None


@pytest.mark.parametrize("document, field, message", [
    ({"url": "http://hooks.example.com/x"}, "url", "https only"),
    ({"url": "https://user:pw@hooks.example.com/"}, "url", "No credentials"),
    ({"url": "not a url"}, "url", "valid URL"),
    ({"url": URL, "event_types": ["version.exploded"]}, "event_types", "valid choice"),
    ({"url": URL, "event_types": "version.registered"}, "event_types", "list"),
    ({"url": URL, "namespace": "no-slash"}, "namespace", ""),
])
def test_bad_input_is_a_400_naming_the_field(admin_api, document, field, message):
    ensure_namespace("/team")
    response = admin_api.post(HOOKS, {"namespace": "/team", **document}, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert message in str(response.json()[field])
    assert not WebhookSubscription.objects.exists()


def test_the_delivery_log_lists_each_delivery_without_secrets(client_for, owner, subscription,
                                                             django_assert_max_num_queries):
    for _ in range(3):
        send_test_event(subscription=subscription)
    api = client_for(owner)

    with django_assert_max_num_queries(12):
        log = api.get(f"{HOOKS}{subscription.pk}/deliveries/").json()

    assert log["count"] == 3
    row = log["results"][0]
    assert set(row) == {"id", "subscription", "event", "event_type", "status", "attempts",
                        "response_code", "response_body", "error", "create_at",
                        "first_attempt_at", "last_attempt_at", "next_attempt_at",
                        "finished_at"}
    assert row["event_type"] == "webhook.test" and row["status"] == "pending"
    one = api.get(f"{HOOKS}{subscription.pk}/deliveries/{row['id']}/")
    assert one.status_code == 200 and one.json() == row
    assert api.get(f"{HOOKS}{subscription.pk}/deliveries/999999/").status_code == 404
    again = api.post(f"{HOOKS}{subscription.pk}/deliveries/{row['id']}/redeliver/")
    assert again.status_code == 202 and again.json()["id"] != row["id"]
    assert subscription.secret not in str(log)


def test_the_admin_shows_the_secret_once_then_masks_it(client, owner, grant):
    client.force_login(owner)
    ensure_namespace("/team")
    namespace = ensure_namespace("/team")

    response = client.post(reverse("admin:mlportal_webhooksubscription_add"), {
        "namespace": namespace.pk, "url": URL, "event_types": ["version.registered"],
        "active": "on"})

    assert response.status_code == 200, response.content[:2000]
    stored = WebhookSubscription.objects.get()
    assert response.context["secret"] == stored.secret
    page = client.get(reverse("admin:mlportal_webhooksubscription_change", args=[stored.pk]))
    assert page.status_code == 200
    assert stored.secret not in page.content.decode() and MASK in page.content.decode()


def test_the_admin_refuses_an_http_url_on_the_field(client, owner):
    client.force_login(owner)
    namespace = ensure_namespace("/team")

    response = client.post(reverse("admin:mlportal_webhooksubscription_add"), {
        "namespace": namespace.pk, "url": "http://hooks.example.com/x", "active": "on"})

    assert response.status_code == 200
    assert "https only" in str(response.context["adminform"].form.errors["url"])
    assert not WebhookSubscription.objects.exists()


def test_the_admin_actions_send_a_test_event_and_redeliver(client, owner, subscription):
    client.force_login(owner)

    client.post(reverse("admin:mlportal_webhooksubscription_changelist"), {
        "action": "send_test_event", "_selected_action": [subscription.pk]})
    delivery = WebhookDelivery.objects.get()
    assert delivery.event.type == "webhook.test"
    client.post(reverse("admin:mlportal_webhookdelivery_changelist"), {
        "action": "redeliver", "_selected_action": [delivery.pk]})

    assert WebhookDelivery.objects.count() == 2
    log = client.get(reverse("admin:mlportal_webhookdelivery_changelist")).content.decode()
    assert "webhook.test" in log and subscription.secret not in log


def test_listing_costs_the_same_queries_whatever_the_page_size(
        client_for, owner, django_assert_max_num_queries):
    api = client_for(owner)
    for number in range(2):
        save_subscription(namespace="/team", url=f"{URL}/{number}", user=owner)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert api.get(HOOKS).json()["count"] == 2
    for number in range(2, 8):
        save_subscription(namespace="/team", url=f"{URL}/{number}", user=owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get(HOOKS).json()["count"] == 8
