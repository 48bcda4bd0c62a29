"""Drift between the deployments' records and what runs in AWS, against moto's server over
HTTP: the portal reads through boto3 as it would read AWS, after assuming the account's role.
The test's side changes AWS the way a team would (a new endpoint config, a new task
definition, new Lambda code), then checks what the reconciler finds."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from deployments import reconcile
from deployments.models import Deployment, DriftFinding
from mlportal.models import ObjectChange
from registry import services as registry
from tests.aws import ACCOUNT, REGION, TRUST, free_port, post, zip_of

pytestmark = pytest.mark.django_db

DATA = "s3://models/doc_classification/{}/model.tar.gz"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/doc-classification:{{}}"
CODE = zip_of("def main(event, context):\n    return 'v3'\n")
SECRET = "planted-drift-secret-e41c"
SM_ENDPOINT = f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/doc-cls/invocations"
ECS_ENDPOINT = "https://doc-cls.internal.abc.example/"
FN_ENDPOINT = f"https://lambda.{REGION}.amazonaws.com/2015-03-31/functions/doc-cls-fn/invocations"


@pytest.fixture(autouse=True)
def local_artifacts(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None}}}


@pytest.fixture
def artifacts(versions):
    """Versions 1..3: a SageMaker model archive each, an image for 2 and 3, and version 3's
    Lambda package uploaded (so its sha256 is known)."""
    for number, version in versions.items():
        registry.link_artifact(version=version, name="model", uri=DATA.format(number))
        if number > 1:
            registry.link_artifact(version=version, name="image",
                                   uri="oci://" + IMAGE.format(number))
    registry.upload_artifact(version=versions[3], name="lambda",
                             file=ContentFile(CODE, name="package.zip"))
    return versions


@pytest.fixture
def running(aws, artifacts, deploy):
    """A SageMaker endpoint, an ECS service and a Lambda function, each as its deployment
    records it, and the cloud account that reads them."""
    aws.sagemaker_model("doc-cls-1", data_url=DATA.format(1),
                        environment={"MODEL_SERVER_WORKERS": "2"})
    sm_arn = aws.sagemaker_endpoint("doc-cls", [("primary", "doc-cls-1", 1.0)])
    ecs_arn = aws.ecs_service("serving", "doc-cls", image=IMAGE.format(3),
                              environment={"FOO": "BAR", "DB_PASSWORD": SECRET})
    fn_arn = aws.lambda_function("doc-cls-fn", code=CODE, environment={"LOG_LEVEL": "info"})
    records = {
        "sagemaker": deploy(1, endpoint=SM_ENDPOINT, deployment_method="sagemaker",
                            resource=sm_arn, environment_variables=[
                                {"name": "MODEL_SERVER_WORKERS", "value": "2"}]),
        "ecs": deploy(3, endpoint=ECS_ENDPOINT, deployment_method="ecs", resource=ecs_arn,
                      environment_variables=[{"name": "FOO", "value": "BAR"},
                                             {"name": "DB_PASSWORD", "value": SECRET,
                                              "secret": True}]),
        "lambda": deploy(3, endpoint=FN_ENDPOINT, deployment_method="lambda", resource=fn_arn,
                         environment_variables=[{"name": "LOG_LEVEL", "value": "info"}]),
    }
    return {"account": aws.account(), "records": records, "aws": aws}


def check(**kwargs):
    return reconcile.reconcile(**kwargs)


def open_findings():
    return {(f.kind, f.deployment.deployment_method if f.deployment else None, f.subject): f
            for f in DriftFinding.objects.open().select_related("deployment")}


def test_resources_that_match_their_records_have_no_findings(running):
    report = check()

    assert report.deployments_checked == 3
    assert report.observations == []
    assert not DriftFinding.objects.exists()
    running["account"].refresh_from_db()
    assert running["account"].last_checked_at is not None


def test_a_deleted_endpoint_is_a_missing_resource(running):
    running["aws"].client("sagemaker").delete_endpoint(EndpointName="doc-cls")

    check()

    finding = open_findings()[("missing", "sagemaker", "")]
    assert finding.deployment == running["records"]["sagemaker"]
    assert finding.found == "not found"


def test_another_model_archive_names_the_version_it_belongs_to(running):
    aws = running["aws"]
    aws.sagemaker_model("doc-cls-2", data_url=DATA.format(2))
    aws.switch_endpoint("doc-cls", [("primary", "doc-cls-2", 1.0)], config="doc-cls-config-2")

    check()

    finding = open_findings()[("artifact", "sagemaker", "")]
    assert finding.found_version.model_version == 2
    assert DATA.format(2) in finding.found
    assert "version 2 of /abc_corp/claim/doc_classification" in finding.found
    assert finding.expected.startswith("version 1 of /abc_corp/claim/doc_classification")


def test_an_unregistered_image_is_no_registered_version(running):
    aws = running["aws"]
    definition = aws.task_definition("doc-cls", image="docker.io/someone/else:latest",
                                     environment={"FOO": "BAR", "DB_PASSWORD": SECRET})
    aws.client("ecs").update_service(cluster="serving", service="doc-cls",
                                     taskDefinition=definition)

    check()

    finding = open_findings()[("artifact", "ecs", "")]
    assert finding.found_version is None
    assert "docker.io/someone/else:latest (no registered version)" in finding.found


def test_new_lambda_code_is_a_different_artifact(running):
    running["aws"].client("lambda").update_function_code(
        FunctionName="doc-cls-fn", ZipFile=zip_of("def main(event, context):\n    pass\n"))

    check()

    assert ("artifact", "lambda", "") in open_findings()


def test_traffic_shares_that_differ_from_the_canary_percent(running, deploy):
    aws = running["aws"]
    aws.sagemaker_model("doc-cls-2", data_url=DATA.format(2))
    arn = aws.sagemaker_endpoint("doc-cls-canary", [("base", "doc-cls-1", 9.0),
                                                    ("canary", "doc-cls-2", 1.0)])
    url = SM_ENDPOINT.replace("doc-cls", "doc-cls-canary")
    deploy(1, endpoint=url, deployment_method="sagemaker", resource=arn,
           environment_variables=[{"name": "MODEL_SERVER_WORKERS", "value": "2"}])
    canary = deploy(2, endpoint=url, deployment_method="sagemaker", resource=arn,
                    rolling_strategy="canary", traffic_percent=10)
    assert check().observations == []

    aws.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="doc-cls-canary", DesiredWeightsAndCapacities=[
            {"VariantName": "base", "DesiredWeight": 1.0},
            {"VariantName": "canary", "DesiredWeight": 3.0}])
    check()

    found = open_findings()
    assert (found[("traffic", "sagemaker", "canary")].expected,
            found[("traffic", "sagemaker", "canary")].found) == ("10%", "75%")
    assert found[("traffic", "sagemaker", "canary")].deployment == canary
    assert (found[("traffic", "sagemaker", "base")].expected,
            found[("traffic", "sagemaker", "base")].found) == ("90%", "25%")


def test_variables_added_removed_and_changed_secrets_never_shown(running):
    aws = running["aws"]
    definition = aws.task_definition("doc-cls", image=IMAGE.format(3), environment={
        "FOO": "CHANGED", "DB_PASSWORD": SECRET + "-rotated", "EXTRA_TOKEN": "tok-123",
        "NEW_FLAG": "1"})
    aws.client("ecs").update_service(cluster="serving", service="doc-cls",
                                     taskDefinition=definition)
    aws.client("lambda").update_function_configuration(
        FunctionName="doc-cls-fn", Environment={"Variables": {}})

    check()

    found = open_findings()
    assert (found[("env_changed", "ecs", "FOO")].expected,
            found[("env_changed", "ecs", "FOO")].found) == ("BAR", "CHANGED")
    assert (found[("env_changed", "ecs", "DB_PASSWORD")].expected,
            found[("env_changed", "ecs", "DB_PASSWORD")].found) == (
        "********", "******** (a different value)")
    assert found[("env_added", "ecs", "NEW_FLAG")].found == "1"
    assert found[("env_added", "ecs", "EXTRA_TOKEN")].found == "********"
    assert found[("env_removed", "lambda", "LOG_LEVEL")].expected == "info"
    kept = json.dumps([list(DriftFinding.objects.values()),
                       list(ObjectChange.objects.values("prechange_data", "postchange_data"))],
                      default=str)
    assert SECRET not in kept and "tok-123" not in kept


def test_a_secret_running_with_its_recorded_value_is_no_drift(running):
    aws = running["aws"]
    definition = aws.task_definition("doc-cls", image=IMAGE.format(3),
                                     environment={"FOO": "BAR", "DB_PASSWORD": SECRET})
    aws.client("ecs").update_service(cluster="serving", service="doc-cls",
                                     taskDefinition=definition)

    assert check().observations == []


def test_findings_open_once_and_resolve_when_aws_matches_again_in_the_audit_trail(running):
    aws = running["aws"]
    client = aws.client("lambda")
    client.update_function_configuration(FunctionName="doc-cls-fn",
                                         Environment={"Variables": {"LOG_LEVEL": "debug"}})
    first = check()
    again = check()
    finding = DriftFinding.objects.get()
    assert (len(first.opened), len(again.opened), again.kept_open) == (1, 0, 1)

    client.update_function_configuration(FunctionName="doc-cls-fn",
                                         Environment={"Variables": {"LOG_LEVEL": "info"}})
    resolved = check()

    finding.refresh_from_db()
    assert resolved.resolved == [finding]
    assert finding.resolved_at is not None and finding.resolution == "no longer found"
    trail = ObjectChange.objects.filter(content_type__model="driftfinding").order_by("id")
    assert [change.action for change in trail] == ["create", "update"]
    assert trail[0].principal == "reconcile_deployments"
    assert trail[1].postchange_data["resolved_at"] is not None


def test_a_finding_seen_with_another_value_is_updated_and_audited(running):
    client = running["aws"].client("lambda")
    for level in ("debug", "debug", "warning"):
        client.update_function_configuration(FunctionName="doc-cls-fn",
                                             Environment={"Variables": {"LOG_LEVEL": level}})
        check()

    finding = DriftFinding.objects.get()
    assert finding.found == "warning" and finding.is_open
    trail = ObjectChange.objects.filter(content_type__model="driftfinding").order_by("id")
    assert [change.action for change in trail] == ["create", "update"]
    assert (trail[1].prechange_data["found"], trail[1].postchange_data["found"]) == (
        "debug", "warning")


def test_an_unrecorded_endpoint_is_found_and_recorded_in_one_step(running, client_for, make_user,
                                                                  grant):
    aws = running["aws"]
    aws.sagemaker_model("doc-cls-2", data_url=DATA.format(2), environment={"API_KEY": "k-77"})
    arn = aws.sagemaker_endpoint("shadow", [("only", "doc-cls-2", 1.0)])
    check()
    finding = open_findings()[("unrecorded", None, "")]
    assert finding.resource == arn and finding.found_version.model_version == 2

    owner = make_user("owner")
    grant(owner, "/abc_corp/claim", "owner")
    response = client_for(owner).post(f"/api/v1/drift/{finding.pk}/record/", {}, format="json")

    assert response.status_code == 201, response.json()
    document = response.json()
    assert (document["model_version"], document["resource"], document["deployment_method"]) == (
        2, arn, "sagemaker")
    assert document["endpoint"] == SM_ENDPOINT.replace("doc-cls", "shadow")
    assert document["environment_variables"] == [
        {"name": "API_KEY", "value": "********", "secret": True}]
    finding.refresh_from_db()
    assert not finding.is_open and finding.deployment_id == document["id"]
    assert check().observations == []


def test_recording_an_unrecorded_service_needs_its_endpoint(running, admin_api):
    aws = running["aws"]
    aws.ecs_service("serving", "shadow-svc", image=IMAGE.format(2), environment={})
    check()
    finding = open_findings()[("unrecorded", None, "")]

    response = admin_api.post(f"/api/v1/drift/{finding.pk}/record/", {}, format="json")

    assert response.status_code == 400
    assert "endpoint" in response.json()
    assert Deployment.objects.count() == 3
    recorded = admin_api.post(f"/api/v1/drift/{finding.pk}/record/",
                              {"endpoint": "https://shadow.internal.abc.example/"},
                              format="json")
    assert recorded.status_code == 201, recorded.json()
    assert recorded.json()["model_version"] == 2


def test_the_admin_action_records_an_unrecorded_endpoint(running, make_user, grant):
    aws = running["aws"]
    aws.sagemaker_model("doc-cls-2", data_url=DATA.format(2))
    arn = aws.sagemaker_endpoint("shadow", [("only", "doc-cls-2", 1.0)])
    check()
    finding = open_findings()[("unrecorded", None, "")]
    owner = make_user("owner", staff=True)
    grant(owner, "/abc_corp/claim", "owner")
    browser = Client()
    browser.force_login(owner)

    response = browser.post("/admin/deployments/driftfinding/", {
        "action": "record_as_deployment", "_selected_action": [finding.pk]}, follow=True)

    assert response.status_code == 200
    recorded = Deployment.objects.get(resource=arn)
    assert recorded.model_version.model_version == 2
    assert f"recorded as {recorded}" in response.content.decode()
    finding.refresh_from_db()
    assert finding.deployment == recorded and not finding.is_open


def test_a_lambda_alias_is_read_as_the_deployment_names_it(running):
    from deployments import services

    lambda_ = running["aws"].client("lambda")
    version = lambda_.publish_version(FunctionName="doc-cls-fn")["Version"]
    lambda_.create_alias(FunctionName="doc-cls-fn", Name="live", FunctionVersion=version)
    deployment, function = running["records"]["lambda"], running["records"]["lambda"].resource
    services.update_deployment(deployment=deployment, resource=f"{function}:live")

    # The function, listed without its alias, is the recorded one: not "unrecorded".
    assert check().observations == []

    services.update_deployment(deployment=deployment, resource=f"{function}:nope")
    check()
    assert ("missing", "lambda", "") in open_findings()


def test_eks_and_accounts_without_a_cloud_account_are_reported_not_checked(running, deploy,
                                                                          capsys):
    eks = deploy(3, endpoint="https://eks.example/doc", deployment_method="eks",
                 resource="arn:aws:eks:us-east-1:123456789012:cluster/prod/namespaces/claims/"
                          "deployments/doc-cls")
    elsewhere = deploy(3, endpoint="https://other.example/doc", deployment_method="lambda",
                       resource="arn:aws:lambda:eu-west-1:999999999999:function:doc-cls")

    report = check()

    assert dict((d, why) for d, why in report.not_checked) == {
        eks: "EKS deployments are not read (see the README)",
        elsewhere: "no enabled cloud account covers account 999999999999 in eu-west-1"}
    assert report.observations == [] and report.deployments_checked == 3
    call_command("reconcile_deployments")
    assert f"Not checked: {eks}" in capsys.readouterr().out


def test_a_check_costs_the_same_queries_for_more_deployments(running, deploy):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_functions(start, count):
        for number in range(start, start + count):
            arn = running["aws"].lambda_function(f"fn-{number}", code=CODE,
                                                 environment={"LOG_LEVEL": "info"})
            deploy(3, endpoint=f"https://fn-{number}.example/", deployment_method="lambda",
                   resource=arn, environment_variables=[{"name": "LOG_LEVEL", "value": "info"}])

    add_functions(0, 1)
    with CaptureQueriesContext(connection) as few:
        assert check().observations == []
    add_functions(1, 5)
    with CaptureQueriesContext(connection) as more:
        report = check()

    assert report.observations == [] and report.deployments_checked == 9
    assert len(more.captured_queries) == len(few.captured_queries)


def test_the_task_queue_runs_the_check_and_queues_the_next_one_once(running, settings):
    from django_tasks_db.models import DBTaskResult

    from deployments.tasks import check_drift

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MLPORTAL_DRIFT_CHECK_SECONDS = 900
    running["aws"].client("sagemaker").delete_endpoint(EndpointName="doc-cls")
    started = timezone.now()

    assert check_drift.call()["opened"] == 1
    assert check_drift.call()["opened"] == 0

    queued = DBTaskResult.objects.get(task_path=check_drift.module_path)
    assert queued.status == "READY"
    assert queued.run_after >= started + timedelta(seconds=900)
    trail = ObjectChange.objects.filter(content_type__model="driftfinding").get()
    assert trail.source == "task"


def test_saving_an_account_starts_the_periodic_check(admin_api, settings,
                                                     django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from deployments.tasks import check_drift

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("/api/v1/cloud-accounts/", {
            "name": "prod", "account_id": ACCOUNT, "regions": [REGION],
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/mlportal-reader"}, format="json")
    assert response.status_code == 201
    assert DBTaskResult.objects.filter(task_path=check_drift.module_path,
                                       status="READY").count() == 1


def test_a_lambda_running_no_registered_artifact_is_not_model_serving(running):
    running["aws"].lambda_function("cron-job", code=zip_of("print(1)"), environment={})

    assert check().observations == []


def test_a_denied_role_is_a_finding_of_its_own(running, monkeypatch):
    aws = running["aws"]
    iam = aws.client("iam")
    iam.create_user(UserName="portal")
    iam.put_user_policy(UserName="portal", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    keys = iam.create_access_key(UserName="portal")["AccessKey"]
    iam.create_role(RoleName="mlportal-reader", AssumeRolePolicyDocument=TRUST)  # no policy
    running["account"].refresh_from_db()
    # The portal's own credentials: an IAM user that may only assume roles.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
    post(f"{aws.endpoint}/moto-api/reset-auth", b"0")
    try:
        report = check()
    finally:
        post(f"{aws.endpoint}/moto-api/reset-auth", b"inf")

    finding = open_findings()[("access_denied", None, "")]
    assert "AccessDenied" in finding.found
    assert finding.resource == running["account"].role_arn
    assert report.deployments_checked == 0
    assert len(report.not_checked) == 3


def test_an_account_that_cannot_be_reached_is_a_finding_not_a_crash(running, capsys):
    running["aws"].client("lambda").update_function_configuration(
        FunctionName="doc-cls-fn", Environment={"Variables": {"LOG_LEVEL": "debug"}})
    check()
    nowhere = f"http://127.0.0.1:{free_port()}"
    running["account"].endpoint_url = nowhere
    running["account"].save()

    with pytest.raises(SystemExit) as exited:
        call_command("reconcile_deployments")

    assert exited.value.code == 1
    found = open_findings()
    assert found[("unreachable", None, "")].resource == nowhere
    # What could not be checked stays as it was.
    assert ("env_changed", "lambda", "LOG_LEVEL") in found
    assert "Could not read prod" in capsys.readouterr().out


def test_the_command_exits_0_without_drift_and_1_with_it(running, capsys):
    call_command("reconcile_deployments", "--account", "prod")
    assert "No drift." in capsys.readouterr().out

    running["aws"].client("sagemaker").delete_endpoint(EndpointName="doc-cls")
    with pytest.raises(SystemExit) as exited:
        call_command("reconcile_deployments", "--dry-run")
    assert exited.value.code == 1
    output = capsys.readouterr().out
    assert "Dry run: 1 difference(s) found (missing 1); nothing recorded." in output
    assert not DriftFinding.objects.exists()


def test_the_command_refuses_an_unknown_account(running):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No cloud account named 'staging'"):
        call_command("reconcile_deployments", "--account", "staging")


def test_every_call_the_portal_makes_is_a_read_listed_in_the_readme_policy(running):
    aws = running["aws"]
    aws.sagemaker_model("doc-cls-2", data_url=DATA.format(2))
    aws.sagemaker_endpoint("shadow", [("only", "doc-cls-2", 1.0)])
    aws.ecs_service("serving", "shadow-svc", image=IMAGE.format(2), environment={})
    aws.lambda_function("cron-job", code=zip_of("print(1)"), environment={})

    report = check()

    readme = (settings.BASE_DIR / "docs" / "drift.md").read_text()
    blocks = readme.split("<!-- drift-policy -->")[1].split("```json")[1:3]
    role, portal = (json.loads(block.split("```")[0]) for block in blocks)
    allowed = {action for statement in role["Statement"] for action in statement["Action"]}
    allowed.add(portal["Statement"][0]["Action"])
    assert report.operations >= {"sts:AssumeRole", "sagemaker:DescribeEndpoint",
                                 "ecs:DescribeTaskDefinition", "lambda:GetFunction"}
    assert report.operations <= allowed
    assert all(action.split(":")[1].startswith(("Describe", "List", "Get", "AssumeRole"))
               for action in allowed)
