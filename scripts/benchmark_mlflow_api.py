"""The MLflow client's registry calls (registry.mlflow) on a catalog of 100,000 models.

Builds the catalog with bulk_create in a throwaway test database (SQLite in memory, or
`test_<name>` on the server DATABASE_URL names), then sends the REST calls the MLflow client
sends (Django's test client, Bearer token: view, auth, queries and JSON, no network) and prints
the median and 95th percentile of each (wall clock), the median CPU time of this process (on
SQLite that is all the work, database included, whatever else loads the machine; on
PostgreSQL the database's share is not in it) and the number of SQL queries. --explain also
prints the plan of each search's slowest query (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY
PLAN on SQLite):

    .venv/bin/python scripts/benchmark_mlflow_api.py [--models 100000] [--requests 30]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_mlflow \
        .venv/bin/python scripts/benchmark_mlflow_api.py --explain
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

NAMESPACES = 500
BATCH = 5000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="requests per call kind")
    parser.add_argument("--explain", action="store_true",
                        help="print the plan of each search's slowest query")
    return parser.parse_args()


def generate(models):
    from catalog.models import CatalogModel, Namespace
    from registry.models import Alias, Artifact, ModelTag, ModelVersion, Tag

    started = time.perf_counter()
    parents = Namespace.objects.bulk_create([Namespace(path=f"/team_{index}")
                                             for index in range(NAMESPACES)])
    children = Namespace.objects.bulk_create([
        Namespace(path=f"{parent.path}/claim", parent=parent) for parent in parents])
    default = Namespace.objects.create(path=settings.MLPORTAL_MLFLOW_DEFAULT_NAMESPACE)
    spaces = [*children, default]
    for start in range(0, models, BATCH):
        indexes = range(start, min(start + BATCH, models))
        rows = CatalogModel.objects.bulk_create([
            CatalogModel(namespace=spaces[index % len(spaces)], model_name=f"model_{index}")
            for index in indexes])
        ModelTag.objects.bulk_create([
            ModelTag(catalog_model=row, key="team", value=f"team_{index % NAMESPACES}")
            for index, row in zip(indexes, rows, strict=True)])
        versions = ModelVersion.objects.bulk_create([
            ModelVersion(catalog_model=row, model_version=1, created_by="bench")
            for row in rows])
        Artifact.objects.bulk_create([
            Artifact(version=version, name="model", uri=f"s3://bucket/{index}/model")
            for index, version in zip(indexes, versions, strict=True)])
        Tag.objects.bulk_create([
            Tag(version=version, key="mlflow.run_id", value=f"run_{index}")
            for index, version in zip(indexes, versions, strict=True)])
        Alias.objects.bulk_create([
            Alias(catalog_model=row, name="champion", version=version)
            for row, version in zip(rows, versions, strict=True)])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"{models:,} models, {models:,} versions (artifact, run id, alias, model tag each) "
          f"in {time.perf_counter() - started:.1f} s on {connection.vendor}")


def explain(client, path, params):
    """The plan of the slowest query of one request."""
    with CaptureQueriesContext(connection) as captured:
        client.get(f"/api/2.0/mlflow/{path}", params)
    slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))["sql"]
    command = "EXPLAIN ANALYZE" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        cursor.execute(f"{command} {slowest}")
        rows = cursor.fetchall()
    lines = [row[0] if len(row) == 1 else row[-1] for row in rows]
    print("    " + slowest[:300] + (" ..." if len(slowest) > 300 else ""))
    print("\n".join(f"      {line}" for line in lines))


def measure(client, label, path, params_of, requests, method="get", plan=False):
    samples, cpu, queries, status = [], [], 0, None
    for index in range(requests):
        params = params_of(index)
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            if method == "get":
                response = client.get(f"/api/2.0/mlflow/{path}", params)
            else:
                response = client.post(f"/api/2.0/mlflow/{path}", params, format="json")
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        status = response.status_code
        if status != 200:
            raise SystemExit(f"{label}: {status} {response.content[:300]!r}")
        queries = max(queries, len(captured.captured_queries))
    ordered = sorted(samples)
    print(f"{label:56s} median {statistics.median(ordered) * 1000:6.1f} ms  "
          f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:6.1f} ms  "
          f"cpu {statistics.median(cpu) * 1000:6.1f} ms  {queries:2d} queries")
    if plan:
        explain(client, path, params_of(0))


def run(args):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from catalog.services import save_grant
    from mlportal.models import Token
    from mlportal.services import save_new_token
    from registry.mlflow.views import MlflowView

    generate(args.models)
    user = get_user_model().objects.create_user("bench")
    save_grant(namespace="/team_1", role="editor", user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {save_new_token(Token(user=user))}")
    count, spaces = args.models, NAMESPACES + 1

    def name(index):
        index = index * 7919 % count
        space = index % spaces
        return f"model_{index}" if space == NAMESPACES else f"team_{space}.claim.model_{index}"

    n, plan = args.requests, args.explain

    def search(label, path, params_of):
        measure(client, label, path, params_of, n, plan=plan)

    def page(number, size=100):
        return {"max_results": size, "page_token": MlflowView.page_token((number - 1) * size)}

    print(f"{n} requests each; the MLflow client's calls:")
    search("registered-models/search (first page of 100, by name)",
           "registered-models/search", lambda i: {"max_results": 100})
    search("registered-models/search (page 50 of 100, by name)",
           "registered-models/search", lambda i: page(50))
    search(f"registered-models/search (page {count // 100} of 100, by name)",
           "registered-models/search", lambda i: page(count // 100))
    search("registered-models/search name = '<name>'", "registered-models/search",
           lambda i: {"filter": f"name = '{name(i)}'"})
    search("registered-models/search name LIKE 'team_7.%'",
           "registered-models/search", lambda i: {"filter": f"name LIKE 'team_{i}.%'"})
    search("registered-models/search name ILIKE 'TEAM_7.CLAIM.%'",
           "registered-models/search", lambda i: {"filter": f"name ILIKE 'TEAM_{i}.CLAIM.%'"})
    search("registered-models/search name ILIKE '%model_777%'",
           "registered-models/search", lambda i: {"filter": f"name ILIKE '%model_{777 + i}%'"})
    search("registered-models/search tags.team = 'team_7'",
           "registered-models/search", lambda i: {"filter": f"tags.team = 'team_{i}'"})
    measure(client, "registered-models/get", "registered-models/get",
            lambda i: {"name": name(i)}, n)
    search("model-versions/search (first page of 100, by name)", "model-versions/search",
           lambda i: {"max_results": 100})
    search("model-versions/search name = '<name>'", "model-versions/search",
           lambda i: {"filter": f"name = '{name(i)}'"})
    search("model-versions/search name LIKE 'team_7.%'", "model-versions/search",
           lambda i: {"filter": f"name LIKE 'team_{i}.%'", "max_results": 100})
    search("model-versions/search run_id IN (3 ids)", "model-versions/search",
           lambda i: {"filter": f"run_id IN ('run_{i}', 'run_{i + 1}', 'run_{i + 2}')"})
    measure(client, "model-versions/get", "model-versions/get",
            lambda i: {"name": name(i), "version": "1"}, n)
    measure(client, "model-versions/get-download-uri", "model-versions/get-download-uri",
            lambda i: {"name": name(i), "version": "1"}, n)
    measure(client, "registered-models/alias (GET, by alias)", "registered-models/alias",
            lambda i: {"name": name(i), "alias": "champion"}, n)
    measure(client, "model-versions/create (write, /team_1/claim)", "model-versions/create",
            lambda i: {"name": f"team_1.claim.model_{1 + spaces * 3}",
                       "source": f"s3://bucket/new/{i}"}, n, method="post")


def main():
    args = parse_args()
    warnings.filterwarnings("ignore", message="No directory at")
    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
