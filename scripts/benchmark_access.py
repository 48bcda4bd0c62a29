"""What the access rule costs: per check, per API request, and for querysets of writable rows.

Runs against a throwaway test database (SQLite in memory, or `test_<name>` on the server
DATABASE_URL names) and prints medians:

    .venv/bin/python scripts/benchmark_access.py
"""

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
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

MODELS, SOURCES, GRANTS = 5000, 1000, 50


def median_ms(action, repeat=20):
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main():
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed
    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run():
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    from catalog.models import CatalogModel, DataSource, ModelDataSource, Namespace
    from mlportal import access
    from mlportal.models import Grant, Token
    from mlportal.services import save_new_token

    namespaces = Namespace.objects.bulk_create(
        [Namespace(path=f"/team{index}") for index in range(100)])
    models = CatalogModel.objects.bulk_create([
        CatalogModel(namespace=namespaces[index % 100], model_name=f"model{index}")
        for index in range(MODELS)])
    sources = DataSource.objects.bulk_create(
        [DataSource(name=f"source{index}") for index in range(SOURCES)])
    ModelDataSource.objects.bulk_create([
        ModelDataSource(catalog_model=model, data_source=sources[index % SOURCES])
        for index, model in enumerate(models)])
    root = User.objects.create_superuser("root", password="x")
    editor = User.objects.create_user("editor", password="x")
    Grant.objects.bulk_create(
        [Grant(namespace=namespaces[index], user=editor) for index in range(GRANTS)])

    def client(user):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {save_new_token(Token(user=user))}")
        return api

    print(f"access rule: {MODELS} catalog models in 100 namespaces, {SOURCES} data sources; "
          f"the editor holds {GRANTS} grants ({connection.vendor})")

    fresh_editor = User.objects.get(pk=editor.pk)
    model = models[0]
    first = median_ms(lambda: access.can(User.objects.get(pk=editor.pk), "change", model), 50)
    cached = median_ms(lambda: access.can(fresh_editor, "change", model), 200)
    print(f"  can(change) on a row, loading the user and their grants:     {first:.3f} ms")
    print(f"  can(change) on a row, grants cached on the user (per request): {cached:.4f} ms")

    for label, queryset in [("catalog models", CatalogModel.objects.all()),
                            ("data sources (used only inside the grants)",
                             DataSource.objects.all())]:
        writable = access.restrict(queryset, fresh_editor, "change")
        count = writable.count()
        took = median_ms(lambda writable=writable: writable.count())
        print(f"  restrict({label}, change).count() = {count}: {took:.1f} ms")

    for who, api in [("superuser", client(root)), ("editor", client(editor))]:
        api.get("/api/v1/models/")
        reset_queries()  # the log keeps 9000 queries at most: start counting from empty
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/models/", {"page_size": 100}).status_code == 200
        query_count = len(queries)
        took = median_ms(lambda api=api: api.get("/api/v1/models/", {"page_size": 100}))
        print(f"  GET /api/v1/models/?page_size=100 as {who}: {took:.1f} ms, "
              f"{query_count} queries")
        names = iter(range(10**6))

        def create(api=api, who=who, names=names):
            response = api.post("/api/v1/models/", {
                "namespace": "/team1/sub", "model_name": f"{who}{next(names)}"}, format="json")
            assert response.status_code == 201, response.content

        took = median_ms(create)
        print(f"  POST /api/v1/models/ as {who}: {took:.1f} ms")


if __name__ == "__main__":
    main()
