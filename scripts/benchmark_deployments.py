"""Deployments benchmark: point-in-time answers over a long history, and recording speed.

Runs in a throwaway database (in memory on SQLite; `bench_<name>` beside the configured one
elsewhere, dropped at the end):

    .venv/bin/python scripts/benchmark_deployments.py [--deployments 20000] [--endpoints 2000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python scripts/...

Prints how long recording through the service takes, the median and 95th percentile of
"what served this endpoint at that time" through the ORM and through the API, and the
database's plan for that query (it should use the deployment_endpoint_time index).
"""

import argparse
import os
import random
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

START = datetime(2023, 1, 1, tzinfo=UTC)
# WhiteNoise looks for collected static files, which an API benchmark does not need.
warnings.filterwarnings("ignore", message="No directory at")


def percentiles(samples):
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def timed(function, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def build_history(versions, deployments, endpoints):
    """`deployments` blue-green rollouts spread over `endpoints`, one a day per endpoint,
    written in bulk (the shape the services leave: each retires its predecessor)."""
    from deployments.models import Deployment

    per_endpoint = deployments // endpoints
    rows, next_id = [], {}
    for endpoint_index in range(endpoints):
        endpoint = f"https://model{endpoint_index}.bench.example.com/predict"
        for step in range(per_endpoint):
            version = versions[(endpoint_index + step) % len(versions)]
            number = next_id[version.catalog_model_id] = next_id.get(
                version.catalog_model_id, 0) + 1
            began = START + timedelta(days=step)
            last = step == per_endpoint - 1
            rows.append(Deployment(
                model_version=version, catalog_model_id=version.catalog_model_id,
                deployment_id=number, create_at=began, endpoint=endpoint,
                deployment_method="ecs", rolling_strategy="blue_green",
                status="active" if last else "retired", active_from=began,
                active_until=None if last else began + timedelta(days=1),
            ))
    Deployment.objects.bulk_create(rows, batch_size=2000)
    return per_endpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20000)
    parser.add_argument("--endpoints", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--recordings", type=int, default=300)
    options = parser.parse_args()

    setup_test_environment()
    database = settings.DATABASES["default"]
    # Keep one connection, as a production server does, so that requests measure queries and
    # not connecting.
    database["CONN_MAX_AGE"] = None
    if connection.vendor != "sqlite":  # SQLite's throwaway database lives in memory
        database["TEST"]["NAME"] = f"bench_{database['NAME']}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(options)
    finally:
        connection.creation.destroy_test_db(database["NAME"], verbosity=0)


def run(options):
    from django.contrib.auth import get_user_model

    from catalog.services import save_catalog_model
    from deployments import services
    from deployments.models import Deployment
    from registry.models import ModelVersion

    versions = []
    for index in range(20):
        model = save_catalog_model(namespace=f"/bench/team{index % 4}", model_name=f"m{index}")
        versions += [ModelVersion.objects.create(catalog_model=model, model_version=number)
                     for number in (1, 2, 3)]
    started = time.perf_counter()
    per_endpoint = build_history(versions, options.deployments, options.endpoints)
    built = time.perf_counter() - started
    total = Deployment.objects.count()
    print(f"deployments benchmark on {connection.vendor}: {total:,} deployments, "
          f"{options.endpoints:,} endpoints x {per_endpoint} rollouts (bulk-built in "
          f"{built:.1f} s)")

    random.seed(4)
    endpoint_at = [
        (f"https://model{random.randrange(options.endpoints)}.bench.example.com/predict",
         START + timedelta(days=random.uniform(0, per_endpoint), seconds=1))
        for _ in range(options.queries)
    ]
    picks = iter(endpoint_at * 2)

    def orm_query():
        endpoint, moment = next(picks)
        assert len(Deployment.objects.filter(endpoint=endpoint).active_at(moment)) == 1

    median, p95 = percentiles(timed(orm_query, options.queries))
    print(f"point in time, ORM ({options.queries} queries): median {median:.2f} ms, "
          f"p95 {p95:.2f} ms")

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("bench", "b@example.com", "x"))
    picks = iter(endpoint_at)

    def api_query():
        endpoint, moment = next(picks)
        response = client.get("/api/v1/deployments/",
                              {"endpoint": endpoint, "active_at": moment.isoformat()})
        assert response.status_code == 200 and response.json()["count"] == 1

    median, p95 = percentiles(timed(api_query, options.queries))
    print(f"point in time, GET /api/v1/deployments/?endpoint=&active_at= "
          f"({options.queries} requests): median {median:.2f} ms, p95 {p95:.2f} ms")

    endpoint, moment = endpoint_at[0]
    plan = Deployment.objects.filter(endpoint=endpoint).active_at(moment).explain()
    print("query plan:", " | ".join(line.strip() for line in plan.splitlines()))

    recordings = iter(range(options.recordings))

    def record():
        index = next(recordings)
        services.record_deployment(
            model_version=versions[index % len(versions)],
            endpoint=f"https://model{index % options.endpoints}.bench.example.com/predict",
            deployment_method="eks", rolling_strategy="blue_green",
            environment_variables=[{"name": "MODE", "value": "bench"},
                                   {"name": "API_TOKEN", "value": "bench-secret"}])

    samples = timed(record, options.recordings)
    median, p95 = percentiles(samples)
    print(f"record_deployment, each replacing what ran ({options.recordings} in "
          f"{sum(samples):.1f} s, {options.recordings / sum(samples):.0f}/s): "
          f"median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
