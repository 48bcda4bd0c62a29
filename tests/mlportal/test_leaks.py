"""No secret in clear anywhere: plant known secrets through the real paths, then search every
API response (JSON, browsable HTML), every admin page, every page, every CSV export, every
audit record, the log and the database for them.

Routes are found from the URL conf, so new endpoints and pages are searched as they appear;
a route the test cannot fill in fails it until taught here.
"""

import csv
import io
import json
import logging
import re
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import resolve, reverse

from catalog.models import CatalogModel
from mlportal.models import ObjectChange
from tests.routes import api_endpoints, normalise, pages

pytestmark = pytest.mark.django_db

PASSWORD = "planted-password-4f2a"
NESTED_KEY = "planted-api-key-9c1e"
MODEL_SECRET = "planted-secret-access-key-77d0"
ENV_SECRET = "planted-env-secret-b3a8"
WEBHOOK_SECRET = "planted-webhook-secret-5e61"
URL_PASSWORD = "planted-url-password-0d9c"
# What runs in AWS (moto) differs from the record: the drift findings must not show it.
RUNNING_SECRET = "planted-running-secret-71c3"
RUNNING_TOKEN = "planted-running-token-a90f"
EXTERNAL_ID = "planted-external-id-2d9b"
SECRETS = [PASSWORD, NESTED_KEY, MODEL_SECRET, ENV_SECRET, WEBHOOK_SECRET, URL_PASSWORD,
           RUNNING_SECRET, RUNNING_TOKEN, EXTERNAL_ID]

ROUTED = api_endpoints()


def plant_drift(admin_api, aws):
    """The planted deployment runs in ECS (moto) with other secrets than it records, and an
    extra credential-like variable; its account's role has an external id. A check then opens
    findings about them."""

    arn = aws.ecs_service("serving", "doc-cls", image="registry.example/doc-cls:1", environment={
        "LOG_LEVEL": "info", "DB_PASSWORD": RUNNING_SECRET, "API_TOKEN": RUNNING_TOKEN})
    response = admin_api.post("/api/v1/cloud-accounts/", {
        "name": "prod", "account_id": "123456789012", "regions": ["us-east-1"],
        "role_arn": "arn:aws:iam::123456789012:role/mlportal-reader",
        "external_id": EXTERNAL_ID, "endpoint_url": aws.endpoint}, format="json")
    assert response.status_code == 201, response.content
    assert EXTERNAL_ID not in text_of(response)
    return arn


@pytest.fixture
def planted(api, admin_api, example, superuser, auditor, client_for, receiver,
            tasks_in_process, aws):
    """Secrets planted through the API as users would, and the token keys issued."""
    created = admin_api.post("/api/v1/data-sources/", {
        "name": "warehouse", "type": "postgres",
        "connection": {"host": "db.internal", "password": PASSWORD,
                       "options": {"api_key": NESTED_KEY},
                       "replicas": [f"postgres://svc:{URL_PASSWORD}@replica.internal/claims"]},
    }, format="json")
    assert created.status_code == 201
    source = created.json()
    # Clients send back what they read: the masked document keeps the secrets.
    assert admin_api.put(f"/api/v1/data-sources/{source['id']}/",
                         source | {"description": "described"},
                         format="json").status_code == 200
    document = example("catalog_model") | {"data_sources": [
        {"name": "warehouse"},
        {"name": "lake", "type": "s3", "connection": {"secret_access_key": MODEL_SECRET}},
    ]}
    assert admin_api.post("/api/v1/models/", document, format="json").status_code == 201
    # Bad input carrying a secret: the error must not echo it.
    refused = admin_api.patch(f"/api/v1/data-sources/{source['id']}/", {
        "connection": {"password": PASSWORD + "-new"}, "owner": "not an email"}, format="json")
    assert refused.status_code == 400
    assert PASSWORD not in refused.content.decode()

    response = admin_api.post("/api/v1/catalog-sources/", {
        "repository": "https://git.example.com/cards.git", "webhook_secret": WEBHOOK_SECRET,
    }, format="json")
    assert response.status_code == 201, response.content

    assert admin_api.post("/api/v1/versions/", example("model_version"),
                          format="json").status_code == 201
    deployment = example("deployment") | {"model_version": 1, "environment_variables": [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "value": ENV_SECRET, "secret": True},
    ]}
    response = admin_api.post("/api/v1/deployments/", deployment, format="json")
    assert response.status_code == 201, response.content
    assert ENV_SECRET not in text_of(response)
    arn = plant_drift(admin_api, aws)
    linked = admin_api.patch(f"/api/v1/deployments/{response.json()['id']}/",
        {"resource": arn}, format="json")
    assert linked.status_code == 200, linked.content
    from deployments import reconcile

    report = reconcile.reconcile()
    assert {observation.kind for observation in report.observations} >= {
        "env_changed", "env_added"}, report.observations

    # A webhook subscription: its secret is shown in the answer to its creation only; its
    # events are delivered (a test event, and the events of a change) and logged.
    with tasks_in_process():
        created = admin_api.post("/api/v1/webhooks/", {"namespace": "/abc_corp",
                                                       "url": receiver.url}, format="json")
        assert created.status_code == 201, created.content
        webhook_secret = created.json()["secret"]
        assert webhook_secret.startswith("whsec_")
        hook = created.json()["id"]
        assert admin_api.post(f"/api/v1/webhooks/{hook}/test/").status_code == 202
        assert admin_api.patch(f"/api/v1/models/{CatalogModel.objects.first().pk}/", {
            "description": "changed for the webhook"}, format="json").status_code == 200
    assert len(receiver.requests) >= 2
    secrets_out = [webhook_secret, webhook_secret.removeprefix("whsec_")]
    for request in receiver.requests:
        assert_clean(request["body"].decode(), [*SECRETS, *secrets_out], "a webhook's body")

    keys = []
    for username in ["root", "auditor"]:
        response = api.post("/api/v1/auth/token/", {
            "username": username, "password": f"{username}-password"}, format="json")
        keys.append(response.json()["token"])
    browser = Client()
    browser.force_login(superuser)
    keys.append(browser.post(reverse("admin:mlportal_token_add"), {
        "user": auditor.pk, "description": "from the admin"}).context["key"])
    return [*SECRETS, *keys, *secrets_out]


def text_of(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def assert_clean(text, secrets, where):
    found = [secret for secret in secrets if secret in text]
    assert not found, f"{where} shows {found}"


def fill(route, keys_of):
    """The URLs of `route`, each {placeholder} filled, left to right, from the list route
    before it: {pk} and {..._pk} with the rows' ids, {name} with their names."""
    placeholder = re.search(r"{(\w+)}", route)
    if placeholder is None:
        return [route]
    prefix = route[:placeholder.start()]
    name = placeholder.group(1)
    key = "id" if name == "pk" or name.endswith("_pk") else name
    return [
        url
        for value in keys_of(prefix, key)
        for url in fill(route.replace(placeholder.group(0), str(value), 1), keys_of)
    ]


def search_api(client, secrets, who):
    def keys_of(list_url, key):
        response = client.get(list_url, {"page_size": 1000})
        if response.status_code == 403:  # not for this user (webhooks: owners): no rows
            return []
        assert response.status_code == 200, f"Teach the leak test to fill {list_url}"
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
        return [row[key] for row in rows]

    visited = 0
    for route, method in sorted(ROUTED):
        if method != "GET":
            continue
        for url in fill(route, keys_of):
            for accept in ["application/json", "text/html"]:
                response = client.get(url, HTTP_ACCEPT=accept)
                # Whatever it answers (a download of a link is a 404), it shows no secret.
                assert response.status_code < 500, (url, response.status_code)
                assert_clean(text_of(response), secrets, f"{accept} {url} for {who}")
                visited += 1
    return visited


def test_no_secret_in_any_api_response(planted, admin_api, client_for, auditor):
    visited = search_api(admin_api, planted, "a superuser")
    search_api(client_for(auditor), planted, "an auditor")
    assert visited > 20


def admin_urls():
    """Every admin page of every registered model: its changelist and add page, and the
    change, history and delete pages of each of its rows."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{base}_changelist"), reverse(f"{base}_add")]
        for pk in model._default_manager.values_list("pk", flat=True):
            urls += [reverse(f"{base}_{page}", args=[pk]) for page in
                     ("change", "history", "delete")]
    return urls


@pytest.fixture
def admin_readers(make_user, grant, auditor, superuser):
    """Who crawls the admin: users who may not write the planted rows (an auditor, an editor
    of another namespace, a non-superuser owner of the rows' namespace, who may change some
    rows and only read others) and a superuser."""
    elsewhere = make_user("elsewhere")
    grant(elsewhere, "/xyz_bank")
    owner = make_user("owner")
    grant(owner, "/abc_corp", role="owner")
    return {"an auditor": auditor, "an editor of another namespace": elsewhere,
            "a non-superuser owner": owner, "a superuser": superuser}


def edit_in_the_admin(superuser):
    """A change made in the admin, so that the history pages list a change message."""
    from catalog.models import DataSource

    browser = Client()
    browser.force_login(superuser)
    source = DataSource.objects.get(name="warehouse")
    response = browser.post(reverse("admin:catalog_datasource_change", args=[source.pk]), {
        "name": "warehouse", "type": "postgres", "description": "edited in the admin",
        "owner": "", "connection": json.dumps(source.connection | {"password": PASSWORD}),
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]


def test_no_secret_in_any_admin_page(planted, admin_readers, superuser):
    edit_in_the_admin(superuser)
    urls = admin_urls()
    assert len(urls) > 20
    for who, user in admin_readers.items():
        browser = Client()
        browser.force_login(user)
        shown = 0
        for url in urls:
            response = browser.get(url)
            # Pages a user may not open are refused (the audit trail has no delete page,
            # nobody adds to it), rows they may not see are not found (another's token: a
            # redirect to the index); none fails, none shows a secret.
            assert response.status_code in (200, 302, 403), (who, url, response.status_code)
            assert_clean(text_of(response), planted, f"{url} for {who}")
            shown += response.status_code == 200
        assert shown > 20, who


def endpoints():
    deployment = apps.get_model("deployments.Deployment")
    return sorted(set(deployment.objects.values_list("endpoint", flat=True)))


def model_keys():
    model = apps.get_model("catalog.CatalogModel")
    return [f"{m.namespace.path}/{m.model_name}"
            for m in model.objects.select_related("namespace")]


def comparisons():
    """Every model's picker, and its first version beside its last."""
    version = apps.get_model("registry.ModelVersion")
    queries = []
    for key in model_keys():
        namespace, _, name = key.rpartition("/")
        numbers = sorted(version.objects.filter(
            catalog_model__namespace__path=namespace, catalog_model__model_name=name,
        ).values_list("model_version", flat=True))
        queries.append({"model": key})
        if numbers:
            queries.append({"model": key, "a": numbers[0], "b": numbers[-1]})
    return queries


def data_source_names():
    return list(apps.get_model("catalog.DataSource").objects.values_list("name", flat=True))


# Pages that need a query string (a 400 or 404 without one), and how to fill it.
QUERY_PAGES = {
    "/endpoints/": lambda: [f"/endpoints/?{urlencode({'url': url})}" for url in endpoints()],
    "/compare/": lambda: [f"/compare/?{urlencode(query)}" for query in comparisons()],
    "/lineage/": lambda: ([f"/lineage/?{urlencode({'model': key})}" for key in model_keys()]
                          + [f"/lineage/?{urlencode({'data_source': name})}"
                             for name in data_source_names()]),
}


def page_urls():
    """Every page: those without arguments, the pages of every row that has one, and the
    pages that take their subject in the query string."""
    urls = [route for route in pages() if "{" not in route and route not in QUERY_PAGES]
    for fill_query in QUERY_PAGES.values():
        urls += fill_query()
    for model in apps.get_models():
        if hasattr(model, "get_absolute_url"):
            urls += [row.get_absolute_url() for row in model._default_manager.all()]
    unfilled = {route for route in pages() if "{" in route} - {
        normalise(resolve(url.split("#")[0].split("?")[0]).route) for url in urls}
    assert not unfilled, f"Teach the leak test to fill {sorted(unfilled)}"
    return urls


def test_no_secret_in_any_page(planted, client, superuser, auditor):
    urls = page_urls()
    for user in [superuser, auditor]:
        client.force_login(user)
        for url in urls:
            response = client.get(url, follow=True)
            assert response.status_code == 200 or (
                response.status_code == 400 and url in QUERY_PAGES
            ), f"{url}: {response.status_code}; a page that needs a query? See QUERY_PAGES."
            assert_clean(text_of(response), planted, f"{url} for {user}")


# Every CSV export, with the queries that make it list the rows that hold planted secrets
# (the data sources, the deployment and its variables, and their recorded changes); a new
# export fails the test until it has its queries here.
CSV_EXPORTS = {
    "/search/export.csv": [{}, {"q": "warehouse"}, {"q": "lake"}, {"kind": "data_sources"},
                           {"kind": "deployments"}],
    "/changes/export.csv": [{}, {"object_type": "catalog.datasource"},
                            {"object_type": "deployments.environmentvariable"},
                            {"object_type": "catalog.catalogsource"}],
}


def test_no_secret_in_any_csv_export(planted, client, superuser, auditor):
    assert {route for route in pages() if route.endswith(".csv")} == set(CSV_EXPORTS)
    for user in [superuser, auditor]:
        client.force_login(user)
        for route, queries in CSV_EXPORTS.items():
            for query in queries:
                response = client.get(route, query)
                where = f"{route}?{urlencode(query)} for {user}"
                assert response.status_code == 200, where
                assert response["Content-Type"].startswith("text/csv"), where
                text = text_of(response)
                # The export lists rows (so that the check can fail), and none in clear.
                assert len(list(csv.reader(io.StringIO(text)))) > 1, where
                assert query.get("q", "") in text, where
                assert_clean(text, planted, where)


def test_no_secret_in_the_audit_trail(planted):
    changes = list(ObjectChange.objects.values())

    assert {change["content_type_id"] for change in changes}  # something was recorded
    assert_clean(json.dumps(changes, default=str), planted, "the audit trail")


def test_no_secret_in_the_database_in_clear(planted):
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump.append(str(cursor.fetchall()))
    assert_clean("\n".join(dump), planted, "the database")


def test_no_secret_in_a_drift_check_its_log_or_its_summary(planted, caplog, capsys):
    from django.core.management import call_command

    caplog.set_level(logging.DEBUG)
    for options in ([], ["--dry-run"]):
        with pytest.raises(SystemExit):
            call_command("reconcile_deployments", *options)
    output = capsys.readouterr()
    assert "env_changed DB_PASSWORD" in output.out
    assert_clean(caplog.text + output.out + output.err, planted, "a drift check")


def test_no_secret_in_the_log(caplog, api, admin_api, example, superuser):
    caplog.set_level(logging.DEBUG)
    admin_api.post("/api/v1/data-sources/", {
        "name": "warehouse", "connection": {"password": PASSWORD}}, format="json")
    admin_api.post("/api/v1/data-sources/", {
        "name": "warehouse", "connection": {"password": PASSWORD}}, format="json")  # 409
    api.post("/api/v1/auth/token/", {"username": "root", "password": PASSWORD}, format="json")
    admin_api.post("/api/v1/data-sources/", '{"connection": {"password": "' + PASSWORD,
                   content_type="application/json")

    assert caplog.records  # the failed requests were logged
    assert_clean(caplog.text, SECRETS, "the log")


def test_read_only_admin_pages_show_each_secret_masked(planted, admin_readers):
    from catalog.models import CatalogSource, DataSource

    browser = Client()
    browser.force_login(admin_readers["an editor of another namespace"])
    deployment = apps.get_model("deployments.Deployment").objects.get()
    pages = [
        reverse("admin:catalog_datasource_change",
                args=[DataSource.objects.get(name="warehouse").pk]),
        reverse("admin:deployments_deployment_change", args=[deployment.pk]),
        reverse("admin:catalog_catalogsource_change", args=[CatalogSource.objects.get().pk]),
    ]
    for url in pages:
        page = browser.get(url).content.decode()
        assert "********" in page, url  # shown, masked: not left out
        assert "Save" not in page, url  # the read-only view
