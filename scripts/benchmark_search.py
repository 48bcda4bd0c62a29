"""Benchmark of the search and model pages on a large catalog.

Generates 10,000 models, 100,000 versions and 20,000 deployments with bulk_create, then
requests the search page and the model page through Django's test client (view, queries
and template, no network) and prints the median and 95th percentile times.

    .venv/bin/python scripts/benchmark_search.py            # a dedicated PostgreSQL database
    DATABASE_URL=postgres://... .venv/bin/python scripts/benchmark_search.py

Without DATABASE_URL it creates the PostgreSQL database `bench_search` on 127.0.0.1 and
drops it afterwards (--keep keeps it, and a later run reuses its data). It refuses a
database that already holds models unless given --reuse (measure the data there as it is).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEDICATED = "postgres://postgres@127.0.0.1:5432/bench_search"
MODELS, VERSIONS, DEPLOYMENTS = 10_000, 100_000, 20_000
NAMESPACES = 200
DATA_SOURCES = 500
BATCH = 5_000
# Domain words are common (each in about 7% of models); the vocabulary's words are rare
# (each in under 1%), as most words of real descriptions are.
DOMAINS = ("claim fraud churn risk pricing triage anomaly forecast demand credit scoring "
           "document image text speech ranking retention lifetime value default policy "
           "motor home health travel payment card loan mortgage savings marketing offer "
           "recommendation search translation summary detection segmentation").split()
SYLLABLES = "ka lo mi ra te su no vi pe da zu ri bo fa ne ho".split()


def vocabulary(rng, size=1000):
    words = set()
    while len(words) < size:
        words.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))))
    return sorted(words)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per page kind")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data already in the database, generate nothing")
    parser.add_argument("--keep", action="store_true",
                        help="keep the dedicated database (a later run reuses it)")
    return parser.parse_args()


def prepare_database():
    """The database URL to use, and whether this script created it (and so drops it)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, False
    import psycopg2

    admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_search'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE DATABASE bench_search")
    admin.close()
    os.environ["DATABASE_URL"] = DEDICATED
    return DEDICATED, True


def drop_dedicated_database():
    from django.db import connections

    connections.close_all()
    import psycopg2

    admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS bench_search")
    admin.close()


def generate(rng, words):
    from django.db import connection, transaction

    from catalog.models import CatalogModel, DataSource, ModelDataSource, Namespace
    from registry.models import ModelVersion

    started = time.perf_counter()
    epoch = datetime(2022, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        orgs = Namespace.objects.bulk_create(
            [Namespace(path=f"/org{index}") for index in range(NAMESPACES // 10)])
        namespaces = Namespace.objects.bulk_create([
            Namespace(path=f"{org.path}/{DOMAINS[index % len(DOMAINS)]}{index}", parent=org)
            for org in orgs for index in range(10)])
        sources = DataSource.objects.bulk_create([
            DataSource(name=f"{rng.choice(words)} {rng.choice(DOMAINS)} {index}",
                       type=rng.choice(["snowflake", "s3", "postgres", "kafka", "bigquery"]),
                       owner=f"team{index % 40}@example.com",
                       description=" ".join(rng.choices(words, k=6)))
            for index in range(DATA_SOURCES)])
        models = CatalogModel.objects.bulk_create([
            CatalogModel(namespace=namespaces[index % len(namespaces)],
                         model_name=f"{rng.choice(DOMAINS)}_{rng.choice(words)}_{index}",
                         owner=f"owner{index % 300}@example.com",
                         description=" ".join(rng.choices(DOMAINS, k=2)
                                              + rng.choices(words, k=6)),
                         url=f"https://git.example.com/models/{index}")
            for index in range(MODELS)], batch_size=BATCH)
        ModelDataSource.objects.bulk_create([
            ModelDataSource(catalog_model=model, data_source=source)
            for model in models for source in rng.sample(sources, rng.randint(1, 3))],
            batch_size=BATCH)
        per_model = VERSIONS // MODELS
        versions = ModelVersion.objects.bulk_create([
            ModelVersion(catalog_model=model, model_version=number,
                         description=" ".join(rng.choices(words, k=5)),
                         created_by=f"arn:aws:iam::123456789012:user/{model.owner[:-12]}",
                         create_at=epoch + timedelta(days=number * 30, minutes=index))
            for index, model in enumerate(models) for number in range(1, per_model + 1)],
            batch_size=BATCH)
        generate_registry_and_deployments(rng, models, versions, epoch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    from deployments.models import Deployment

    print(f"generated {MODELS:,} models, {len(versions):,} versions, "
          f"{Deployment.objects.count():,} deployments in {time.perf_counter() - started:.0f} s")


def generate_registry_and_deployments(rng, models, versions, epoch):
    """An artifact per version; per model, its last two versions deployed one after the
    other at its production endpoint (the first retired when the second came)."""
    from deployments.models import Deployment
    from registry.models import Artifact

    Artifact.objects.bulk_create([
        Artifact(version=version, name="trained", create_at=version.create_at,
                 uri=f"s3://models/{version.catalog_model_id}/trained/{version.model_version}.tgz")
        for version in versions], batch_size=BATCH)
    latest = {}
    for version in versions:
        latest.setdefault(version.catalog_model_id, []).append(version)
    per_model = DEPLOYMENTS // MODELS
    deployments = []
    for model in models:
        endpoint = f"https://ml.example.com/{model.namespace.path.strip('/')}/{model.model_name}"
        method = rng.choice(["ecs", "eks", "lambda", "sagemaker"])
        served = latest[model.pk][-per_model:]
        for number, version in enumerate(served, start=1):
            start = version.create_at + timedelta(days=2)
            end = served[number].create_at + timedelta(days=2) if number < len(served) else None
            deployments.append(Deployment(
                model_version=version, catalog_model=model, deployment_id=number,
                create_at=start, endpoint=endpoint, environment="prod",
                deployment_method=method, rolling_strategy="blue_green",
                status="retired" if end else "active", active_from=start, active_until=end))
    Deployment.objects.bulk_create(deployments, batch_size=BATCH)


def measure(label, client, urls):
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        times.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"{label:<38} {statistics.median(times):8.1f} ms {p95:8.1f} ms  ({len(times)} requests)")


def main():
    args = parse_args()
    url, dedicated = prepare_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from catalog.models import CatalogModel

    settings.ALLOWED_HOSTS = ["*"]
    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # no collectstatic here
    # Pages link static files by name; production's manifest needs collectstatic first.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    try:
        call_command("migrate", verbosity=0)
        rng = random.Random(20240131)
        words = vocabulary(rng)
        has_data = CatalogModel.objects.exists()
        # The dedicated database holds only what an earlier run (with --keep) generated.
        if has_data and not (args.reuse or dedicated):
            raise SystemExit(f"{url.rsplit('@', 1)[-1]} already holds models: give --reuse to "
                             "measure them as they are, or point DATABASE_URL at an empty "
                             "database.")
        if not has_data:
            generate(rng, words)
        user, _ = get_user_model().objects.get_or_create(
            username="benchmark", defaults={"is_superuser": True, "is_staff": True})
        client = Client()
        client.force_login(user)

        keys = [str(model).lstrip("/") for model in
                CatalogModel.objects.select_related("namespace").order_by("?")[:args.requests]]
        rare = [rng.choice(words) for _ in range(args.requests)]
        common = [rng.choice(DOMAINS) for _ in range(args.requests)]
        print(f"database: {connection.vendor} {url.rsplit('@', 1)[-1]}; "
              f"{CatalogModel.objects.count():,} models")
        print(f"{'page':<38} {'median':>11} {'p95':>11}")
        measure("search, no words (every kind)", client, ["/search/"] * args.requests)
        measure("search, a rare word (every kind)", client, [f"/search/?q={q}" for q in rare])
        measure("search, a common word (every kind)", client,
                [f"/search/?q={q}" for q in common])
        measure("search, two words (every kind)", client,
                [f"/search/?q={q}+{w}" for q, w in zip(common, rare, strict=True)])
        measure("search, a common word, models page 2", client,
                [f"/search/?q={q}&kind=models&page=2" for q in common])
        measure("search, a common word, versions", client,
                [f"/search/?q={q}&kind=versions" for q in common])
        measure("search, models in a namespace", client,
                [f"/search/?kind=models&namespace=/org{i % 20}" for i in range(args.requests)])
        measure("search, a common word, deployments", client,
                [f"/search/?q={q}&kind=deployments" for q in common])
        measure("model page", client, [f"/models/{key}/" for key in keys])
    finally:
        if dedicated and not args.keep:
            drop_dedicated_database()


if __name__ == "__main__":
    main()
