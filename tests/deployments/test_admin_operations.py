"""Roll back and promote from a deployment's own admin page: a confirmation page shows what
will serve the endpoint afterwards; nothing changes until it is confirmed."""

import pytest
from django.urls import reverse

from deployments.models import Deployment
from mlportal.models import ObjectChange
from tests.deployments.conftest import ENDPOINT, at

pytestmark = pytest.mark.django_db


def operation_url(deployment, operation):
    return reverse("admin:deployments_deployment_operation", args=[deployment.pk, operation])


@pytest.fixture
def replaced(deploy):
    first = deploy(1, create_at=at("01-10 00:00"))
    second = deploy(2, create_at=at("01-20 00:00"))
    return first, second


def test_the_change_page_offers_roll_back_on_an_active_deployment(admin_client, replaced):
    first, second = replaced
    page = admin_client.get(reverse("admin:deployments_deployment_change", args=[second.pk]))
    assert operation_url(second, "rollback") in page.content.decode()
    assert operation_url(second, "promote") not in page.content.decode()
    retired = admin_client.get(reverse("admin:deployments_deployment_change", args=[first.pk]))
    assert operation_url(first, "rollback") not in retired.content.decode()


def test_the_confirmation_shows_what_will_serve_and_changes_nothing(admin_client, replaced):
    first, second = replaced
    changes = ObjectChange.objects.count()

    page = admin_client.get(operation_url(second, "rollback"))

    assert page.status_code == 200
    assert [row["version"] for row in page.context["before"]] == ["doc_classification v2"]
    assert page.context["after"] == [{
        "version": "doc_classification v1", "model": "/abc_corp/claim/doc_classification",
        "deployment_id": None, "rolling_strategy": "blue-green", "traffic_percent": None,
        "deployment_method": "self hosted ECS", "environment": ""}]
    assert "doc_classification v1, which served before it, is deployed again" in (
        page.content.decode())
    assert Deployment.objects.count() == 2
    second.refresh_from_db()
    assert second.status == "active"
    assert ObjectChange.objects.count() == changes


def test_confirming_rolls_back_and_says_what_serves_now(admin_client, replaced):
    first, second = replaced

    response = admin_client.post(operation_url(second, "rollback"), follow=True)

    second.refresh_from_db()
    assert second.status == "rolled_back"
    restored = second.replaced_by
    assert restored.model_version.model_version == 1 and restored.status == "active"
    assert response.redirect_chain[-1][0] == reverse("admin:deployments_deployment_change",
                                                     args=[restored.pk])
    message = [str(m) for m in response.context["messages"]][0]
    assert message == (f"Rolled back /abc_corp/claim/doc_classification deployment 2. "
                       f"{ENDPOINT} is served now by doc_classification v1 (deployment 3, "
                       "blue-green).")


def test_a_canary_is_promoted_after_its_confirmation(admin_client, deploy):
    deploy(1, create_at=at("01-10 00:00"))
    canary = deploy(2, create_at=at("01-20 00:00"), rolling_strategy="canary",
                    traffic_percent=10)

    preview = admin_client.get(operation_url(canary, "promote"))
    assert [(row["version"], row["traffic_percent"]) for row in preview.context["after"]] == [
        ("doc_classification v2", 100)]
    admin_client.post(operation_url(canary, "promote"))

    canary.refresh_from_db()
    assert canary.traffic_percent == 100
    assert [d.deployment_id for d in Deployment.objects.active()] == [canary.deployment_id]


def test_nothing_to_roll_back_to_is_said_on_the_change_page(admin_client, deploy):
    only = deploy(1, create_at=at("01-10 00:00"))

    response = admin_client.get(operation_url(only, "rollback"), follow=True)

    assert "there is no version to roll back to" in str(list(response.context["messages"])[0])
    only.refresh_from_db()
    assert only.status == "active"


def test_an_unknown_operation_is_a_404(admin_client, replaced):
    assert admin_client.get(operation_url(replaced[1], "explode")).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(client, replaced):
    response = client.post(operation_url(replaced[1], "rollback"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert replaced[1].status == "active"


def test_staff_without_a_grant_cannot_roll_back(client, make_user, replaced):
    client.force_login(make_user("outsider", staff=True))

    response = client.post(operation_url(replaced[1], "rollback"))

    assert response.status_code == 403
    replaced[1].refresh_from_db()
    assert replaced[1].status == "active"


def test_an_editor_of_the_namespace_rolls_back(client, make_user, grant, replaced):
    editor = make_user("editor", staff=True)
    grant(editor, "/abc_corp/claim")
    client.force_login(editor)

    client.post(operation_url(replaced[1], "rollback"))

    replaced[1].refresh_from_db()
    assert replaced[1].status == "rolled_back"
