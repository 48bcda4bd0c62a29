"""Drift benchmark: how long a check of N deployments takes, and how many database queries.

AWS is moto's standalone server on loopback (a test dependency: `make install` has it), so the
time is the portal's own work plus one local HTTP round trip per AWS call, not AWS's latency.
Runs in a throwaway database (in memory on SQLite; `bench_<name>` beside the configured one
elsewhere, dropped at the end):

    .venv/bin/python scripts/benchmark_drift.py [--deployments 150]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python scripts/...

Prints, for a third each of SageMaker endpoints, ECS services and Lambda functions that match
their records: the AWS calls made, the database queries and the wall time of a check that
finds nothing; then the same after a tenth of them drifted (findings opened), and once more
(findings kept open).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ[name] = value

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=150)
    options = parser.parse_args()

    setup_test_environment()
    database = settings.DATABASES["default"]
    database["CONN_MAX_AGE"] = None
    if connection.vendor != "sqlite":
        database["TEST"]["NAME"] = f"bench_{database['NAME']}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    artifacts = tempfile.mkdtemp(prefix="bench-artifacts-")
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": artifacts, "base_url": None}}}
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        run(options, f"http://{host}:{port}")
    finally:
        server.stop()
        connection.creation.destroy_test_db(database["NAME"], verbosity=0)
        shutil.rmtree(artifacts, ignore_errors=True)


def build(aws, count):
    """`count` deployments, a third on each method, each matching what runs."""
    from django.core.files.base import ContentFile

    from catalog.services import save_catalog_model
    from deployments.services import record_deployment
    from registry.services import link_artifact, register_version, upload_artifact
    from tests.aws import zip_of

    save_catalog_model(namespace="/bench", model_name="model")
    version = register_version(namespace="/bench", model_name="model")
    link_artifact(version=version, name="archive", uri="s3://bench/model.tar.gz")
    link_artifact(version=version, name="image", uri="oci://registry.bench/model:1")
    environment = {"LOG_LEVEL": "info", "WORKERS": "2"}
    variables = [{"name": name, "value": value} for name, value in environment.items()]
    aws.sagemaker_model("model", data_url="s3://bench/model.tar.gz",
                        image="registry.bench/model:1", environment=environment)
    code = zip_of("def main(event, context):\n    return 1\n")
    upload_artifact(version=version, name="package", file=ContentFile(code, name="fn.zip"))
    resources = []
    for number in range(count):
        method = ("sagemaker", "ecs", "lambda")[number % 3]
        if method == "sagemaker":
            arn = aws.sagemaker_endpoint(f"ep-{number}", [("main", "model", 1.0)])
        elif method == "ecs":
            arn = aws.ecs_service("bench", f"svc-{number}", image="registry.bench/model:1",
                                  environment=environment)
        else:
            arn = aws.lambda_function(f"fn-{number}", code=code,
                                      environment=environment | {"MODEL_URI": "x"})
        record_deployment(
            model_version=version, endpoint=f"https://bench.example/{number}",
            deployment_method=method, rolling_strategy="blue_green", resource=arn,
            environment_variables=variables + ([{"name": "MODEL_URI", "value": "x"}]
                                               if method == "lambda" else []))
        resources.append((method, number))
    return resources


def timed_check():
    from deployments import reconcile

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = reconcile.reconcile()
        elapsed = time.perf_counter() - started
    return report, elapsed, len(queries.captured_queries)


def run(options, endpoint):
    from deployments.models import CloudAccount
    from tests.aws import Aws

    aws = Aws(endpoint, aws_access_key_id="bench", aws_secret_access_key="bench")
    resources = build(aws, options.deployments)
    CloudAccount.objects.create(name="bench", account_id="123456789012", regions="us-east-1",
                                role_arn="arn:aws:iam::123456789012:role/reader",
                                endpoint_url=endpoint)
    print(f"{options.deployments} deployments ({connection.vendor}), AWS = moto on loopback")

    def line(title, report, elapsed, queries):
        print(f"  {title}: {elapsed:.2f} s ({elapsed / report.deployments_checked * 1000:.1f} ms"
              f" per deployment), {queries} database queries, {len(report.observations)} "
              f"differences, {len(report.opened)} opened, {report.kept_open} kept open")

    line("no drift", *timed_check())
    lambda_ = aws.client("lambda")
    drifted = [number for method, number in resources if method == "lambda"][
        : max(1, options.deployments // 10)]
    for number in drifted:
        lambda_.update_function_configuration(
            FunctionName=f"fn-{number}",
            Environment={"Variables": {"LOG_LEVEL": "debug", "WORKERS": "2", "MODEL_URI": "x"}})
    line(f"{len(drifted)} drifted, first check", *timed_check())
    line(f"{len(drifted)} drifted, second check", *timed_check())


if __name__ == "__main__":
    main()
