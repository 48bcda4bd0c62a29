"""Drift on the pages: the endpoint, model and search pages show the findings of their
deployments and when a drift check last read where they run."""

import datetime
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from deployments.models import CloudAccount, DriftFinding
from tests.helpers import PROD, STAGING

pytestmark = pytest.mark.django_db

ARN = "arn:aws:ecs:us-east-1:123456789012:service/serving/doc-cls"
CHECKED = datetime.datetime(2026, 11, 30, 22, 15, tzinfo=datetime.UTC)


@pytest.fixture
def drifted(deployed):
    """PROD's v2 names its ECS service; a check found a changed secret (open) and a changed
    image (resolved since)."""
    deployment = deployed.deployments.get(endpoint=PROD, model_version__model_version=2)
    deployment.resource = ARN
    deployment.save()
    account = CloudAccount.objects.create(
        name="prod", account_id="123456789012", regions="us-east-1",
        role_arn="arn:aws:iam::123456789012:role/mlportal-reader", last_checked_at=CHECKED)
    rows = {}
    for kind, subject, expected, found, resolved in [
        ("env_changed", "DB_PASSWORD", "********", "******** (a different value)", None),
        ("artifact", "", "version 2 of /abc_corp/claim/doc_classification: s3://...",
         "model: registry.example/other:1 (no registered version)", timezone.now()),
    ]:
        rows[kind] = DriftFinding.objects.create(
            account=account, deployment=deployment, kind=kind, subject=subject, resource=ARN,
            expected=expected, found=found, resolved_at=resolved,
            resolution="no longer found" if resolved else "",
            key=DriftFinding.key_of(kind=kind, deployment_id=deployment.pk, resource=ARN,
                                    subject=subject))
    return rows


def endpoint_page(client, url):
    return client.get(f"/endpoints/?{urlencode({'url': url})}")


def test_the_endpoint_page_shows_its_drift_and_the_last_check(reader_client, drifted):
    response = endpoint_page(reader_client, PROD)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="drift"' in page
    assert "1 open" in page
    assert "environment variable changed" in page and "DB_PASSWORD" in page
    assert "******** (a different value)" in page
    assert "different model artifact" in page and "no longer found" in page
    assert "last check: 2026-11-30 22:15 UTC" in page
    assert ARN in page


def test_an_endpoint_whose_deployments_name_no_resource_says_none_is_checked(reader_client,
                                                                              drifted):
    page = endpoint_page(reader_client, STAGING).content.decode()

    assert "no deployment here names its AWS resource, so none is checked" in page


def test_the_model_page_shows_the_drift_of_its_deployments(reader_client, drifted, deployed):
    page = reader_client.get(deployed.get_absolute_url()).content.decode()

    assert "environment variable changed" in page
    assert "last check: 2026-11-30 22:15 UTC" in page


def test_search_shows_open_drift_per_deployment_and_the_last_check(reader_client, drifted):
    page = reader_client.get("/search/", {"kind": "deployments"}).content.decode()

    assert "1 open" in page
    assert "Drift against AWS, last check: 2026-11-30 22:15 UTC." in page


def test_a_page_shows_never_before_the_first_check(reader_client, drifted):
    CloudAccount.objects.update(last_checked_at=None)

    page = endpoint_page(reader_client, PROD).content.decode()

    assert "last check: never" in page


def test_drift_on_pages_needs_a_sign_in(client, drifted):
    response = endpoint_page(client, PROD)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_endpoint_page_costs_the_same_for_more_findings(reader_client, drifted,
                                                             django_assert_max_num_queries):
    with django_assert_max_num_queries(50) as few:
        endpoint_page(reader_client, PROD)
    finding = drifted["env_changed"]
    for number in range(20):
        DriftFinding.objects.create(
            account=finding.account, deployment=finding.deployment, kind="env_added",
            subject=f"VAR_{number}", resource=ARN, expected="(not recorded)", found="1",
            key=f"env_added|{finding.deployment_id}|{ARN}|VAR_{number}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "21 open" in endpoint_page(reader_client, PROD).content.decode()
