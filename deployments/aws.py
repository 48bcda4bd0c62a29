"""What runs in AWS, read through boto3 and nothing else: this module only describes, gets
and lists (the IAM actions in the README's policy); it never writes to AWS.

The portal's own credentials come from boto3's usual chain (instance profile, environment,
~/.aws, ...); for each cloud account it assumes the account's role (STS AssumeRole) and reads
with the temporary credentials. An account that denies or cannot be reached raises
AccountError, which the reconciler turns into a finding of its own.
"""

import base64
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from deployments.choices import DeploymentMethod, DriftKind
from deployments.validators import parse_resource

logger = logging.getLogger(__name__)

# Fail fast on an endpoint where nothing listens; retry a throttled call a little.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20,
                       retries={"max_attempts": 3, "mode": "standard"})
SESSION_NAME = "mlportal-drift-check"
# What AWS answers when the credentials or the role's policy refuse a call.
DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "NotAuthorized",
    "MissingAuthenticationToken", "MissingAuthenticationTokenException",
}
# What AWS answers when the named resource does not exist.
NOT_FOUND_CODES = {
    "ResourceNotFoundException", "ClusterNotFoundException", "ServiceNotFoundException",
    "NoSuchEntity", "NotFoundException",
}


class AccountError(Exception):
    """The account could not be read: `kind` is access_denied or unreachable."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _error_code(exc):
    return exc.response.get("Error", {}).get("Code", "")


@contextmanager
def reading(what):
    """Turn boto3's errors while reading `what` into AccountError."""
    try:
        yield
    except NoCredentialsError as exc:
        raise AccountError(DriftKind.ACCESS_DENIED,
                           f"{what}: the portal has no AWS credentials ({exc}).") from exc
    except ClientError as exc:
        code = _error_code(exc)
        kind = DriftKind.ACCESS_DENIED if code in DENIED_CODES else DriftKind.UNREACHABLE
        message = exc.response.get("Error", {}).get("Message", "")
        raise AccountError(kind, f"{what}: {code}: {message}"[:1000]) from exc
    except BotoCoreError as exc:
        raise AccountError(DriftKind.UNREACHABLE, f"{what}: {exc}"[:1000]) from exc


@dataclass
class Unit:
    """One thing that serves inside a resource: a SageMaker production variant, an ECS
    container, a Lambda function. `uris`: its model data URLs and images; `sha256`: a Lambda
    zip's digest (hex); `share`: its percent of the resource's traffic (SageMaker only)."""

    name: str
    uris: list = field(default_factory=list)
    sha256: str = ""
    environment: dict = field(default_factory=dict)
    share: float | None = None


@dataclass
class Running:
    """A resource as it runs: its ARN, method and units."""

    arn: str
    method: str
    units: list = field(default_factory=list)


def _is_not_found(exc):
    code = _error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    # SageMaker answers a missing endpoint or model with a ValidationException.
    return code in NOT_FOUND_CODES or (code == "ValidationException"
                                       and "could not find" in message.lower())


class AccountReader:
    """Reads one cloud account in one region, through the account's role."""

    def __init__(self, account, region):
        self.account = account
        self.region = region
        self._session = None
        self._clients = {}
        # The IAM actions this reader called ("sagemaker:DescribeEndpoint", ...), as botocore
        # names them: the tests hold them to the README's least-privilege policy.
        self.operations = set()

    def _note(self, model, **kwargs):
        self.operations.add(f"{model.service_model.signing_name}:{model.name}")
        logger.debug("%s %s:%s", self.account.account_id, model.service_model.signing_name,
                     model.name)

    def _watched(self, client):
        client.meta.events.register("before-call", self._note)
        return client

    def _endpoint(self):
        return self.account.endpoint_url or None

    def session(self):
        if self._session is None:
            sts = self._watched(boto3.Session().client(
                "sts", region_name=self.region, endpoint_url=self._endpoint(),
                config=CLIENT_CONFIG))
            request = {"RoleArn": self.account.role_arn, "RoleSessionName": SESSION_NAME}
            if self.account.external_id:
                request["ExternalId"] = self.account.external_id
            with reading(f"assuming {self.account.role_arn}"):
                credentials = sts.assume_role(**request)["Credentials"]
            self._session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region,
            )
        return self._session

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._watched(self.session().client(
                service, endpoint_url=self._endpoint(), config=CLIENT_CONFIG))
        return self._clients[service]

    # What runs

    def read(self, arn):
        """The resource at `arn` as it runs, or None when it does not exist."""
        method, parts = parse_resource(arn)
        readers = {
            DeploymentMethod.SAGEMAKER: self._read_sagemaker,
            DeploymentMethod.ECS: self._read_ecs,
            DeploymentMethod.LAMBDA: self._read_lambda,
        }
        if method not in readers:
            raise ValueError(f"Cannot read {arn}: not a SageMaker, ECS or Lambda resource.")
        with reading(arn):
            try:
                return readers[method](arn, parts)
            except ClientError as exc:
                if _is_not_found(exc):
                    return None
                raise

    def _read_sagemaker(self, arn, parts):
        client = self.client("sagemaker")
        endpoint = client.describe_endpoint(EndpointName=parts["name"])
        config = client.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])
        # The weights the endpoint runs with now (UpdateEndpointWeightsAndCapacities changes
        # them without a new config), else the config's.
        current = {variant["VariantName"]: variant.get("CurrentWeight")
                   for variant in endpoint.get("ProductionVariants", [])}
        variants = config.get("ProductionVariants", [])
        weights = {
            variant["VariantName"]: float(
                current.get(variant["VariantName"])
                if current.get(variant["VariantName"]) is not None
                else variant.get("InitialVariantWeight", 1.0))
            for variant in variants
        }
        total = sum(weights.values()) or 1.0
        units = []
        for variant in variants:
            model = client.describe_model(ModelName=variant["ModelName"])
            containers = ([model["PrimaryContainer"]] if model.get("PrimaryContainer")
                          else model.get("Containers", []))
            uris, environment = [], {}
            for container in containers:
                uris += [container[key] for key in ("ModelDataUrl", "Image") if container.get(key)]
                environment.update(container.get("Environment") or {})
            units.append(Unit(name=variant["VariantName"], uris=uris, environment=environment,
                              share=100.0 * weights[variant["VariantName"]] / total))
        return Running(arn=endpoint.get("EndpointArn", arn), method=DeploymentMethod.SAGEMAKER,
                       units=units)

    def _read_ecs(self, arn, parts):
        client = self.client("ecs")
        answer = client.describe_services(cluster=parts["cluster"], services=[arn])
        services = [service for service in answer.get("services", [])
                    if service.get("status") != "INACTIVE"]
        if not services:
            return None
        definition = client.describe_task_definition(
            taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
        units = [
            Unit(name=container["name"], uris=[container["image"]] if container.get("image")
                 else [],
                 environment={item["name"]: item.get("value", "")
                              for item in container.get("environment", [])})
            for container in definition.get("containerDefinitions", [])
        ]
        return Running(arn=services[0].get("serviceArn", arn), method=DeploymentMethod.ECS,
                       units=units)

    def _read_lambda(self, arn, parts):
        request = {"FunctionName": parts["name"]}
        if parts.get("qualifier"):
            request["Qualifier"] = parts["qualifier"]
        function = self.client("lambda").get_function(**request)
        configuration, code = function["Configuration"], function.get("Code", {})
        uris = [uri for uri in (code.get("ImageUri"), code.get("ResolvedImageUri")) if uri]
        sha256 = ""
        if configuration.get("CodeSha256") and configuration.get("PackageType") != "Image":
            sha256 = base64.b64decode(configuration["CodeSha256"]).hex()
        environment = (configuration.get("Environment") or {}).get("Variables") or {}
        return Running(arn=arn, method=DeploymentMethod.LAMBDA, units=[Unit(
            name=configuration["FunctionName"], uris=uris, sha256=sha256,
            environment=dict(environment))])

    # What there is

    def _pages(self, client, operation, key, **request):
        for page in client.get_paginator(operation).paginate(**request):
            yield from page.get(key, [])

    def list_resources(self):
        """The ARNs of the SageMaker endpoints, ECS services and Lambda functions in this
        account and region."""
        with reading(f"listing {self.account.account_id} in {self.region}"):
            sagemaker, ecs = self.client("sagemaker"), self.client("ecs")
            arns = [endpoint["EndpointArn"]
                    for endpoint in self._pages(sagemaker, "list_endpoints", "Endpoints")]
            for cluster in self._pages(ecs, "list_clusters", "clusterArns"):
                arns += list(self._pages(ecs, "list_services", "serviceArns", cluster=cluster))
            arns += [function["FunctionArn"] for function in
                     self._pages(self.client("lambda"), "list_functions", "Functions")]
        return arns
