"""Does the registry stay flat as it grows? The same requests on a small and a large database.

Seeds two PostgreSQL databases with `manage.py seed_benchmark` (unless they are seeded
already: --reuse), a small one (1,000 versions) and a large one (--scale of 100,000 models,
1,000,000 versions, 200,000 deployments; both with a model of 10,000 versions), then times
each request through Django's test client, in-process (no HTTP), and prints p50 and p95 per
database and the large/small ratio of the p50s, and each database's size:

GET a version by id and by natural key, resolve an alias, a page of 100 versions of a model,
search a model's versions by tag, what ran at an endpoint at a time (point in time), the
search page (a word, a rare word), and the model page of the model with 10,000 versions.

    .venv/bin/python scripts/benchmark_scale.py [--scale 1 (0.1: a tenth)] [--reuse]
        [--requests 100]
        [--pg postgres://postgres@127.0.0.1:5432] [--small-db NAME] [--large-db NAME]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 1.5
P95_TARGET = 100
BIN = Path(sys.executable).parent


def measure(requests):
    """In the child process: time each request on DATABASE_URL; print JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.conf import settings

    # The pages name static files; the manifest needs a collectstatic the tests do without.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from deployments.models import Deployment
    from registry.models import ModelVersion

    user, _ = get_user_model().objects.get_or_create(
        username="scale-bench", defaults={"is_superuser": True, "is_staff": True})
    client = Client()
    client.force_login(user)
    model = "/seed/team-0000/model-000000"
    namespace, name = model.rsplit("/", 1)
    version = ModelVersion.objects.filter(catalog_model__model_name=name).order_by("pk").first()
    deployment = Deployment.objects.order_by("pk").first()
    versions = f"/api/v1/versions/?namespace={namespace}&model_name={name}"
    big = "/api/v1/versions/?namespace=/seed/big&model_name=big_model"
    cases = {
        "GET a version by id": f"/api/v1/versions/{version.pk}/",
        "GET a version by natural key": f"{versions}&model_version=1",
        "resolve an alias": f"{versions}&alias=champion",
        "list 100 versions (model of 10,000)": f"{big}&page_size=100",
        "search by tag (model of 10,000)": f"{big}&tag=batch=3&page_size=100",
        "point in time (endpoint, active_at)":
            f"/api/v1/deployments/?endpoint={deployment.endpoint}"
            "&active_at=2024-06-01T00:00:00Z",
        "search page, a word in every model": "/search/?q=model",
        "search page, a word in a tenth": "/search/?q=fraud",
        "search page, a rare word": "/search/?q=model-000042",
        "model page, 10,000 versions": "/models/seed/big/big_model/",
    }
    figures = {}
    for label, url in cases.items():
        response = client.get(url)
        assert response.status_code == 200, (label, url, response.status_code)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        figures[label] = {"p50": statistics.median(times),
                          "p95": times[min(len(times) - 1, int(0.95 * len(times)))]}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database())), "
                       "(SELECT COUNT(*) FROM registry_modelversion)")
        size, count = cursor.fetchone()
    print(json.dumps({"figures": figures, "size": size, "versions": count}))


def prepare(server, name, scale, reuse):
    import psycopg2

    url = f"{server}/{name}"
    env = {**os.environ, "DATABASE_URL": url, "MLPORTAL_METRICS": "0"}
    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and not reuse:
            cursor.execute(f'DROP DATABASE "{name}"')
        if not exists or not reuse:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    if not (exists and reuse):
        started = time.monotonic()
        subprocess.run([*manage, "seed_benchmark", "--scale", str(scale)], cwd=ROOT, env=env,
                       check=True)
        print(f"{name}: seeded in {time.monotonic() - started:.0f} s", flush=True)
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="of the large database (1 = 1,000,000 versions: ~3 min to seed)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="measure seeded databases")
    parser.add_argument("--pg", default=os.environ.get(
        "BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--small-db", default="mlportal_bench_small")
    parser.add_argument("--large-db", default="mlportal_bench_large")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure)
    results = {}
    for name, scale in ((args.small_db, 0.001), (args.large_db, args.scale)):
        env = prepare(args.pg, name, scale, args.reuse)
        output = subprocess.run(
            [sys.executable, __file__, "--measure", str(args.requests)], cwd=ROOT, env=env,
            check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(output.strip().splitlines()[-1])
    small, large = results[args.small_db], results[args.large_db]
    print(f"\nIn-process (Django test client), {args.requests} requests each; p50/p95 in ms. "
          f"Small ({args.small_db}): {small['versions']:,} versions, {small['size']}; "
          f"large ({args.large_db}): {large['versions']:,} versions, {large['size']}. "
          f"Targets (issue 10): large/small p50 <= {RATIO_TARGET}x for the API and the search "
          f"page; large p95 <= {P95_TARGET} ms for the search page and the model page.")
    header = ["request", "small p50", "small p95", "large p50", "large p95", "large/small",
              "targets"]
    rows = []
    for label in small["figures"]:
        a, b = small["figures"][label], large["figures"][label]
        ratio = b["p50"] / a["p50"]
        checks = []
        if not label.startswith("model page"):
            checks.append(f"ratio {'pass' if ratio <= RATIO_TARGET else 'FAIL'}")
        if label.startswith(("search page", "model page")):
            checks.append(f"p95 {'pass' if b['p95'] <= P95_TARGET else 'FAIL'}")
        rows.append([label, f"{a['p50']:.1f}", f"{a['p95']:.1f}", f"{b['p50']:.1f}",
                     f"{b['p95']:.1f}", f"{ratio:.2f}x", ", ".join(checks)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) if i in (0, len(row) - 1) else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())


if __name__ == "__main__":
    main()
