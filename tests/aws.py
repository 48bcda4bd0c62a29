"""AWS for the drift tests: moto's standalone server over HTTP (no patching of boto3), and the
resources a deployment runs on, created there as a team's pipeline would."""

import hashlib
import io
import json
import socket
import urllib.request
import zipfile

import boto3
import pytest
from moto.server import ThreadedMotoServer

from deployments.models import CloudAccount

ACCOUNT = "123456789012"
REGION = "us-east-1"
READER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlportal-reader"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/model-execution"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sts:AssumeRole"}]})
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="session")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def post(url, data=b""):
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request).read()


@pytest.fixture
def aws(moto_server, monkeypatch, tmp_path):
    """A fresh moto (everything created before is gone), the portal's own credentials in the
    environment (the usual chain), and a client factory for the test's side of AWS."""
    post(f"{moto_server}/moto-api/reset")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return Aws(moto_server)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def zip_of(source):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


class Aws:
    """The test's own hands on AWS (moto): what a deployment pipeline would do."""

    def __init__(self, endpoint, **credentials):
        self.endpoint = endpoint
        self.credentials = credentials or {"aws_access_key_id": "testing",
                                           "aws_secret_access_key": "testing"}

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            **self.credentials)

    def account(self, **fields):
        return CloudAccount.objects.create(**{
            "name": "prod", "account_id": ACCOUNT, "regions": REGION,
            "role_arn": READER_ROLE, "endpoint_url": self.endpoint, **fields})

    # SageMaker

    def sagemaker_model(self, name, *, data_url, image="123.dkr.ecr/serve:1", environment=None):
        self.client("sagemaker").create_model(
            ModelName=name, ExecutionRoleArn=EXECUTION_ROLE,
            PrimaryContainer={"Image": image, "ModelDataUrl": data_url,
                              "Environment": environment or {}})

    def sagemaker_endpoint(self, name, variants, *, config=None):
        """variants: [(variant name, model name, weight)]. Returns the endpoint's ARN."""
        sagemaker = self.client("sagemaker")
        config = config or f"{name}-config"
        sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
            {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": weight}
            for variant, model, weight in variants])
        return sagemaker.create_endpoint(EndpointName=name,
                                         EndpointConfigName=config)["EndpointArn"]

    def switch_endpoint(self, name, variants, *, config):
        sagemaker = self.client("sagemaker")
        sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
            {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": weight}
            for variant, model, weight in variants])
        # moto has no UpdateEndpoint: the endpoint is made again with the new config.
        sagemaker.delete_endpoint(EndpointName=name)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)

    # ECS

    def ecs_service(self, cluster, name, *, image, environment):
        ecs = self.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        definition = self.task_definition(name, image=image, environment=environment)
        return ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=definition,
                                  desiredCount=1)["service"]["serviceArn"]

    def task_definition(self, family, *, image, environment):
        return self.client("ecs").register_task_definition(family=family, containerDefinitions=[{
            "name": "model", "image": image, "memory": 512, "essential": True,
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
        }])["taskDefinition"]["taskDefinitionArn"]

    # Lambda

    def lambda_function(self, name, *, code, environment):
        iam = self.client("iam")
        try:
            role = iam.create_role(RoleName="lambda-exec",
                                   AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName="lambda-exec")["Role"]["Arn"]
        return self.client("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler="handler.main",
            Code={"ZipFile": code}, Environment={"Variables": environment},
        )["FunctionArn"]
