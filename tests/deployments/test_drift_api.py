"""The drift API (/api/v1/drift/), cloud accounts (/api/v1/cloud-accounts/) and a deployment's
`resource`: anonymous, permitted, forbidden and bad input. Findings here are rows as the
reconciler writes them; tests/deployments/test_drift.py makes them against moto."""

import pytest
from django.test import Client
from django.utils import timezone

from deployments.models import CloudAccount, DriftFinding
from mlportal.models import ObjectChange
from tests.deployments.conftest import ENDPOINT

pytestmark = pytest.mark.django_db

DRIFT = "/api/v1/drift/"
ACCOUNTS = "/api/v1/cloud-accounts/"
SM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/doc-cls"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:doc-cls"
ROLE = "arn:aws:iam::123456789012:role/mlportal-reader"


@pytest.fixture
def account():
    return CloudAccount.objects.create(name="prod", account_id="123456789012",
                                       regions="us-east-1", role_arn=ROLE)


def finding(account, deployment=None, *, kind="env_changed", subject="FOO", resolved=False,
            resource=SM_ARN, found_version=None):
    return DriftFinding.objects.create(
        account=account, deployment=deployment, kind=kind, subject=subject, resource=resource,
        expected="BAR", found="BAZ", found_version=found_version,
        key=DriftFinding.key_of(kind=kind, deployment_id=getattr(deployment, "pk", None),
                                resource=resource, subject=subject),
        resolved_at=timezone.now() if resolved else None)


@pytest.fixture
def findings(account, deploy):
    deployment = deploy(3, deployment_method="sagemaker", resource=SM_ARN)
    return {
        "open": finding(account, deployment),
        "resolved": finding(account, deployment, kind="traffic", subject="primary",
                            resolved=True),
        "unrecorded": finding(account, kind="unrecorded", subject="", resource=FN_ARN),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_anonymous_gets_401(api, findings):
    assert api.get(DRIFT).status_code == 401
    assert api.get(ACCOUNTS).status_code == 401
    assert api.post(f"{DRIFT}{findings['unrecorded'].pk}/record/").status_code == 401


def test_every_signed_in_user_reads_findings_with_the_last_check(reader_api, findings, account):
    account.last_checked_at = timezone.now()
    account.save()

    response = reader_api.get(f"{DRIFT}{findings['open'].pk}/")

    assert response.status_code == 200
    document = response.json()
    assert {key: document[key] for key in ("kind", "state", "namespace", "model_name",
                                           "deployment_id", "endpoint", "subject",
                                           "expected", "found", "account")} == {
        "kind": "env_changed", "state": "open", "namespace": "/abc_corp/claim",
        "model_name": "doc_classification", "deployment_id": 1, "endpoint": ENDPOINT,
        "subject": "FOO", "expected": "BAR", "found": "BAZ", "account": "prod"}
    assert document["last_checked_at"].endswith("Z")


def test_findings_filter_by_namespace_endpoint_kind_and_state(reader_api, findings):
    every = {row.pk for row in findings.values()}
    assert ids(reader_api.get(DRIFT)) == every
    assert ids(reader_api.get(DRIFT, {"state": "open"})) == {findings["open"].pk,
                                                             findings["unrecorded"].pk}
    assert ids(reader_api.get(DRIFT, {"state": "resolved"})) == {findings["resolved"].pk}
    assert ids(reader_api.get(DRIFT, {"kind": "unrecorded"})) == {findings["unrecorded"].pk}
    assert ids(reader_api.get(DRIFT, {"namespace": "/abc_corp"})) == {findings["open"].pk,
                                                                      findings["resolved"].pk}
    assert ids(reader_api.get(DRIFT, {"namespace": "/xyz"})) == set()
    assert ids(reader_api.get(DRIFT, {"endpoint": ENDPOINT, "state": "open"})) == {
        findings["open"].pk}


def test_a_bad_filter_value_is_a_400_naming_it(reader_api, findings):
    assert "kind" in reader_api.get(DRIFT, {"kind": "weird"}).json()
    assert "state" in reader_api.get(DRIFT, {"state": "maybe"}).json()


def test_findings_are_not_written_through_the_api(admin_api, findings):
    assert admin_api.post(DRIFT, {"kind": "missing"}, format="json").status_code == 405
    url = f"{DRIFT}{findings['open'].pk}/"
    assert admin_api.patch(url, {"found": "x"}, format="json").status_code == 405
    assert admin_api.delete(url).status_code == 405


def test_listing_findings_costs_a_fixed_number_of_queries(reader_api, account, deploy,
                                                          django_assert_max_num_queries):
    deployment = deploy(3, deployment_method="sagemaker", resource=SM_ARN)
    for number in range(30):
        finding(account, deployment, subject=f"VAR_{number}")
    with django_assert_max_num_queries(8):
        assert len(ids(reader_api.get(DRIFT, {"page_size": 30}))) == 30


def test_recording_needs_a_grant_on_the_versions_namespace(client_for, make_user, auditor,
                                                           grant, findings, versions):
    unrecorded = findings["unrecorded"]
    unrecorded.found_version = versions[3]
    unrecorded.save()
    outsider = make_user("outsider")
    elsewhere = make_user("elsewhere")
    grant(elsewhere, "/xyz_bank", "owner")
    url = f"{DRIFT}{unrecorded.pk}/record/"

    for user in (outsider, elsewhere, auditor):
        response = client_for(user).post(url, {}, format="json")
        assert response.status_code == 403, response.content
    unrecorded.refresh_from_db()
    assert unrecorded.is_open


def test_recording_with_a_read_only_token_is_refused(client_for, make_user, grant, findings):
    owner = make_user("owner")
    grant(owner, "/abc_corp/claim", "owner")

    response = client_for(owner, write_enabled=False).post(
        f"{DRIFT}{findings['unrecorded'].pk}/record/", {}, format="json")

    assert response.status_code == 403


def test_recording_bad_input_is_a_400_naming_the_field(admin_api, findings):
    url = f"{DRIFT}{findings['unrecorded'].pk}/record/"
    cases = [
        ({"model_version": 3}, "model_version"),  # without namespace and model_name
        ({"namespace": "/abc_corp/claim", "model_name": "doc_classification",
          "model_version": 99}, "model_version"),
        ({"endpoint": "ftp://nope"}, "endpoint"),
        ({"rolling_strategy": "big_bang"}, "rolling_strategy"),
        ({}, "model_version"),  # no registered artifact runs there, and none named
    ]
    for payload, field in cases:
        response = admin_api.post(url, payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in response.json(), (payload, response.json())


def test_only_an_open_unrecorded_finding_is_recorded(admin_api, findings):
    other = admin_api.post(f"{DRIFT}{findings['open'].pk}/record/", {}, format="json")
    assert other.status_code == 400 and "kind" in other.json()

    findings["unrecorded"].resolved_at = timezone.now()
    findings["unrecorded"].save()
    closed = admin_api.post(f"{DRIFT}{findings['unrecorded'].pk}/record/", {}, format="json")
    assert closed.status_code == 400 and "resolved_at" in closed.json()


# Cloud accounts


ACCOUNT_DOCUMENT = {"name": "staging", "account_id": "210987654321",
                    "regions": ["us-east-1", "eu-west-1"],
                    "role_arn": "arn:aws:iam::210987654321:role/mlportal-reader",
                    "external_id": "ext-secret-1234"}


def test_superusers_manage_cloud_accounts_the_external_id_never_shown(admin_api, reader_api):
    created = admin_api.post(ACCOUNTS, ACCOUNT_DOCUMENT, format="json")

    assert created.status_code == 201, created.content
    document = created.json()
    assert document["regions"] == ["us-east-1", "eu-west-1"]
    assert document["has_external_id"] is True
    assert "ext-secret-1234" not in created.content.decode()
    read = reader_api.get(f"{ACCOUNTS}{document['id']}/")
    assert read.status_code == 200 and "ext-secret-1234" not in read.content.decode()
    kept = admin_api.patch(f"{ACCOUNTS}{document['id']}/", {"enabled": False}, format="json")
    assert kept.status_code == 200
    assert CloudAccount.objects.get().external_id == "ext-secret-1234"
    trail = ObjectChange.objects.filter(content_type__model="cloudaccount")
    assert trail.count() == 2
    assert "ext-secret-1234" not in str(list(trail.values("prechange_data", "postchange_data")))


def test_others_may_not_write_cloud_accounts(client_for, make_user, grant, account):
    owner = make_user("owner")
    grant(owner, "/abc_corp", "owner")
    client = client_for(owner)

    assert client.post(ACCOUNTS, ACCOUNT_DOCUMENT, format="json").status_code == 403
    assert client.patch(f"{ACCOUNTS}{account.pk}/", {"enabled": False},
                        format="json").status_code == 403
    assert client.delete(f"{ACCOUNTS}{account.pk}/").status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"account_id": "12345"}, "account_id"),
    ({"regions": ["us-east-1", "moon-1"]}, "regions"),
    ({"regions": []}, "regions"),
    ({"role_arn": "arn:aws:iam::210987654321:user/bob"}, "role_arn"),
    ({"role_arn": "arn:aws:iam::111111111111:role/elsewhere"}, "role_arn"),
    ({"endpoint_url": "file:///etc/passwd"}, "endpoint_url"),
])
def test_a_bad_cloud_account_is_a_400_naming_the_field(admin_api, change, field):
    response = admin_api.post(ACCOUNTS, ACCOUNT_DOCUMENT | change, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not CloudAccount.objects.exists()


def test_a_duplicate_account_name_is_a_conflict(admin_api, account):
    response = admin_api.post(ACCOUNTS, ACCOUNT_DOCUMENT | {"name": "prod"}, format="json")
    assert response.status_code in (400, 409)
    assert "name" in response.json() or response.status_code == 409


def test_an_account_with_findings_is_not_deleted(admin_api, findings, account):
    assert admin_api.delete(f"{ACCOUNTS}{account.pk}/").status_code == 409
    assert CloudAccount.objects.filter(pk=account.pk).exists()


# A deployment's resource


@pytest.mark.parametrize(("method", "resource"), [
    ("sagemaker", SM_ARN),
    ("lambda", FN_ARN),
    ("lambda", FN_ARN + ":live"),
    ("ecs", "arn:aws:ecs:eu-west-1:123456789012:service/serving/doc-cls"),
    ("eks", "arn:aws:eks:us-east-1:123456789012:cluster/prod/namespaces/claims/"
            "deployments/doc-cls"),
])
def test_a_deployment_names_the_resource_its_method_runs_on(admin_api, example, versions,
                                                            method, resource):
    document = example("deployment") | {"deployment_method": method, "resource": resource}

    response = admin_api.post("/api/v1/deployments/", document, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["resource"] == resource


@pytest.mark.parametrize(("method", "resource"), [
    ("sagemaker", FN_ARN),
    ("ecs", "arn:aws:ecs:us-east-1:123456789012:service/doc-cls"),  # no cluster
    ("lambda", "doc-cls"),
    ("eks", "arn:aws:eks:us-east-1:123456789012:cluster/prod"),
])
def test_a_resource_of_another_method_is_a_400_naming_resource(admin_api, example, versions,
                                                               method, resource):
    document = example("deployment") | {"deployment_method": method, "resource": resource}

    response = admin_api.post("/api/v1/deployments/", document, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["resource"]


def test_the_resource_may_be_set_later_and_is_validated(admin_api, deploy):
    deployment = deploy(3, deployment_method="sagemaker")
    url = f"/api/v1/deployments/{deployment.pk}/"

    refused = admin_api.patch(url, {"resource": FN_ARN}, format="json")
    assert refused.status_code == 400 and "resource" in refused.json()
    accepted = admin_api.patch(url, {"resource": SM_ARN}, format="json")
    assert accepted.status_code == 200 and accepted.json()["resource"] == SM_ARN


def test_the_admin_checks_the_resource_against_the_method(superuser, deploy):
    deployment = deploy(3, deployment_method="sagemaker")
    browser = Client()
    browser.force_login(superuser)

    response = browser.post(f"/admin/deployments/deployment/{deployment.pk}/change/", {
        "environment": "", "traffic_percent": "", "resource": FN_ARN,
        "environment_variables-TOTAL_FORMS": "0", "environment_variables-INITIAL_FORMS": "0",
        "status_history-TOTAL_FORMS": "0", "status_history-INITIAL_FORMS": "0",
    })

    assert response.status_code == 200
    assert "resource" in response.context["adminform"].form.errors
    deployment.refresh_from_db()
    assert deployment.resource == ""


def test_the_admin_lists_findings_and_accounts(superuser, reader, findings):
    for user in (superuser, reader):
        browser = Client()
        browser.force_login(user)
        for url in ("/admin/deployments/driftfinding/", "/admin/deployments/cloudaccount/",
                    f"/admin/deployments/driftfinding/{findings['open'].pk}/change/",
                    "/admin/deployments/driftfinding/?state=open&kind=unrecorded"):
            assert browser.get(url).status_code == 200, (user, url)


def test_a_superuser_adds_an_account_in_the_admin_the_external_id_stays_hidden(superuser):
    browser = Client()
    browser.force_login(superuser)
    form = {"name": "staging", "account_id": "210987654321", "regions": "us-east-1,eu-west-1",
            "role_arn": "arn:aws:iam::210987654321:role/mlportal-reader",
            "external_id": "ext-admin-5678", "endpoint_url": "", "enabled": "on"}

    refused = browser.post("/admin/deployments/cloudaccount/add/",
                           form | {"regions": "us-east-1,moon"})
    assert refused.status_code == 200
    assert "regions" in refused.context["adminform"].form.errors
    added = browser.post("/admin/deployments/cloudaccount/add/", form)

    assert added.status_code == 302, added.context and added.context["adminform"].form.errors
    account = CloudAccount.objects.get()
    assert account.region_list == ["us-east-1", "eu-west-1"]
    assert account.external_id == "ext-admin-5678"
    page = browser.get(f"/admin/deployments/cloudaccount/{account.pk}/change/")
    assert "ext-admin-5678" not in page.content.decode()
    kept = browser.post(f"/admin/deployments/cloudaccount/{account.pk}/change/",
                        form | {"external_id": "", "enabled": ""})
    assert kept.status_code == 302
    account.refresh_from_db()
    assert account.external_id == "ext-admin-5678" and not account.enabled
