"""Profile single API requests in-process: the queries each one runs (CaptureQueriesContext)
and where the time goes (cProfile), on the database DATABASE_URL names.

Seeds a model with 400 versions under /profile (once; reused on later runs), then profiles
GET a version, GET by natural key, alias, a page of 100, search by tag, register, and the
API root.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python \
        scripts/profile_requests.py [--top 25] [--repeat 200] [--only get_id ...]
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

NAMESPACE, MODEL = "/profile", "profiled"


def seed(versions):
    from django.contrib.auth import get_user_model

    from catalog.models import CatalogModel
    from mlportal import audit
    from mlportal.models import Token
    from mlportal.services import save_new_token
    from registry import services

    User = get_user_model()
    user = User.objects.filter(username="profiler").first()
    if user is None:
        user = User.objects.create_superuser("profiler", "p@example.com", "profiler-pass-1")
    key = save_new_token(Token(user=user, description="profile"))
    if not CatalogModel.objects.filter(model_name=MODEL).exists():
        from catalog.services import save_catalog_model

        with audit.change_context(user=user):
            save_catalog_model(namespace=NAMESPACE, model_name=MODEL, owner="p@example.com")
            for number in range(1, versions + 1):
                services.register_version(
                    namespace=NAMESPACE, model_name=MODEL, user=user,
                    artifacts=[{"name": "model", "uri": f"s3://b/{number}.tar.gz"}],
                    tags={"framework": "sklearn", "batch": str(number % 10)})
            version = services.find_version(namespace=NAMESPACE, model_name=MODEL,
                                            model_version=versions // 2)
            services.set_alias(version=version, name="champion")
    return key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--sql", action="store_true", help="print each query")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    # Each request clears the connection's query log as it starts: keep it for the capture.
    from django.core.signals import request_started
    global reset_queries
    from django.db import reset_queries

    request_started.disconnect(reset_queries)
    key = seed(400)
    from registry.models import ModelVersion

    some = ModelVersion.objects.filter(catalog_model__model_name=MODEL,
                                       model_version=200).first()
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    base = f"/api/v1/versions/?namespace={NAMESPACE}&model_name={MODEL}"
    counter = {"n": 0}

    def register():
        counter["n"] += 1
        return client.post("/api/v1/versions/", {
            "namespace": NAMESPACE, "model_name": MODEL,
            "artifacts": [{"name": "model", "uri": "s3://b/x.tar.gz"}],
            "tags": {"framework": "sklearn", "batch": "1"}}, content_type="application/json")

    requests = {
        "root": lambda: client.get("/api/v1/"),
        "get_id": lambda: client.get(f"/api/v1/versions/{some.pk}/"),
        "get_key": lambda: client.get(base + "&model_version=200"),
        "alias": lambda: client.get(base + "&alias=champion"),
        "list100": lambda: client.get(base + "&page_size=100"),
        "search_tag": lambda: client.get(base + "&tag=batch=3&page_size=100"),
        "register": register,
    }
    for name, call in requests.items():
        if args.only and name not in args.only:
            continue
        response = call()  # warm
        assert response.status_code in (200, 201), (name, response.status_code,
                                                      response.content[:300])
        reset_queries()
        with CaptureQueriesContext(connection) as capture:
            call()
        captured = list(capture.captured_queries)
        repeat = args.repeat if name != "list100" else max(args.repeat // 5, 10)
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        per_request = (time.perf_counter() - started) / repeat * 1000
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(min(repeat, 50)):
            call()
        profile.disable()
        db_ms = sum(float(q["time"]) for q in captured) * 1000
        print(f"\n=== {name}: {per_request:.2f} ms per request in-process, "
              f"{len(captured)} queries ({db_ms:.2f} ms in the database)")
        if args.sql:
            for query in captured:
                print(f"   {query['time']}s  {query['sql'][:160]}")
        for order in ("cumulative", "tottime"):
            stream = io.StringIO()
            stats = pstats.Stats(profile, stream=stream)
            stats.strip_dirs().sort_stats(order).print_stats(args.top)
            lines = [line for line in stream.getvalue().splitlines()
                     if line.strip() and not line.startswith(("   Ordered", "   List"))]
            print(f"--- by {order}")
            print("\n".join(lines[1:]))


if __name__ == "__main__":
    main()
