"""Bad input found by attacking a running portal (issue 16, item 6): each is a 400 (or 404)
naming the problem, never a 500, on SQLite and PostgreSQL alike."""

import hashlib
import hmac
import json

import pytest
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from catalog.models import CatalogModel, DataSource
from mlportal.filters import MomentFilter
from mlportal.models import ObjectChange
from tests.helpers import WEBHOOK_SECRET as SECRET
from tests.routes import api_endpoints

pytestmark = pytest.mark.django_db

ROUTED = api_endpoints()
# Actions that take no body: they never read one.
BODILESS = ("/promote/", "/rollback/", "/deprecate/", "/sync/", "/revoke/", "/redeliver/",
            "/test/")
DEEP_ARRAY = "[" * 1000 + "]" * 1000
TOO_BIG = 2_147_483_648  # 2**31: PostgreSQL's integer stops one below


def nested(depth, key="items", leaf=None):
    """{"items": {"items": ... leaf}} `depth` levels deep (JSON text, built without
    recursion)."""
    return f'{{"{key}": ' * depth + json.dumps(leaf if leaf is not None else {}) + "}" * depth


def schema_document(schema_text):
    return ('{"namespace": "/abc_corp/claim", "model_name": "deep", "inference": '
            '{"input": {"schema": ' + schema_text + "}}}")


def connection_document(connection_text, name="deep source"):
    return f'{{"name": "{name}", "connection": {connection_text}}}'


def fill(route, world):
    """/api/v1/models/{pk}/ -> /api/v1/models/12/."""
    if "{pk}" in route:
        route = route.replace("{pk}", str(world["ids"][route.split("/")[3]]))
    return (route
            .replace("{version_pk}", str(world["version"].pk)).replace("{name}", "trained"))


def _moment_filters(route):
    view = resolve(route.replace("{version_pk}", "1")).func
    filterset = getattr(view.cls, "filterset_class", None)
    if filterset is None:
        return []
    return [name for name, item in filterset.base_filters.items()
            if isinstance(item, MomentFilter)]


LISTS = sorted(route for route, method in ROUTED if method == "GET" and "{pk}" not in route
               and "{name}" not in route)
BODY_ROUTES = sorted((route, method) for route, method in ROUTED
                     if method in {"POST", "PUT", "PATCH"} and not route.endswith(BODILESS))


def _cases():
    """(id, method, route, query, body, anonymous, expected statuses, key or text)."""
    for route in LISTS:
        for name in _moment_filters(route):
            for offset in ("+16:00", "-16:30"):
                yield (f"GET {route}?{name}=...{offset}", "GET", route,
                       {name: f"2024-01-01T00:00:00{offset}"}, None, False, {400}, name)
    for name in ("since", "until"):
        yield (f"GET changes?{name}=...+16:00", "GET", "/api/v1/changes/",
               {name: "2024-01-01T00:00:00+16:00"}, None, False, {400}, name)
        for page in ("/changes/", "/changes/export.csv"):
            yield (f"GET {page}?{name}=...-16:00", "GET", page,
                   {name: "2024-01-01T00:00:00-16:00"}, None, False, {400}, "UTC offset")
    for route, method in BODY_ROUTES:
        anonymous = route.endswith(("/auth/token/", "/webhook/"))
        yield (f"{method} {route} nested 1000 deep", method, route, None, DEEP_ARRAY,
               anonymous, {400}, "nested more than")
    yield ("POST token nested 1000 deep in a field", "POST", "/api/v1/auth/token/", None,
           '{"username": ' + DEEP_ARRAY + "}", True, {400}, "username")
    for method, route in [("POST", "/api/v1/models/"), ("PUT", "/api/v1/models/{pk}/"),
                          ("PATCH", "/api/v1/models/{pk}/")]:
        for label, text in [
            ("schema nested 150 deep", nested(150)),
            ("schema nested 150 deep in properties", nested(150, "properties")),
            ("schema holding NUL", '{"description": "a\\u0000b"}'),
            ("schema holding a lone surrogate", '{"description": "a\\ud800b"}'),
            ("schema with an unresolvable $ref", '{"$ref": "#/$defs/missing"}'),
            ("schema with a remote $ref", '{"$ref": "https://example.com/schema.json"}'),
        ]:
            yield (f"{method} {route} {label}", method, route, None, schema_document(text),
                   False, {400}, "inference")
    for label, text in [
        ("connection nested 900 deep", nested(900, "a")),
        ("connection nested 20 deep", nested(20, "a")),
        ("connection holding NUL", '{"host": "db\\u0000"}'),
        ("connection holding a lone surrogate", '{"\\udc00host": "db"}'),
    ]:
        for method, route in [("POST", "/api/v1/data-sources/"),
                              ("PATCH", "/api/v1/data-sources/{pk}/")]:
            yield (f"{method} {route} {label}", method, route, None,
                   connection_document(text), False, {400}, "connection")
        yield (f"POST models with a data source {label}", "POST", "/api/v1/models/", None,
               '{"namespace": "/abc_corp/claim", "model_name": "fed", "data_sources": ['
               + connection_document(text) + "]}", False, {400}, "data_sources")
    deployment = {"namespace": "/abc_corp/claim", "model_name": "doc_classification",
                  "model_version": 2, "endpoint": "https://new.example.com/x",
                  "deployment_method": "ecs", "rolling_strategy": "blue_green"}
    for key in ("deployment_id", "model_version"):
        yield (f"POST deployments {key} 2**31", "POST", "/api/v1/deployments/", None,
               json.dumps({**deployment, key: TOO_BIG}), False, {400}, key)
    yield ("PATCH deployment deployment_id 2**31", "PATCH", "/api/v1/deployments/{pk}/", None,
           json.dumps({"deployment_id": TOO_BIG}), False, {400}, "deployment_id")
    yield ("POST aliases model_version 2**31", "POST", "/api/v1/aliases/", None,
           json.dumps({"namespace": "/abc_corp/claim", "model_name": "doc_classification",
                       "alias": "next", "model_version": TOO_BIG}), False, {400},
           "model_version")
    for route, key in [("/api/v1/deployments/", "deployment_id"),
                       ("/api/v1/deployments/", "model_version"),
                       ("/api/v1/versions/", "model_version"),
                       ("/api/v1/aliases/", "model_version")]:
        yield (f"GET {route}?{key}=2**31", "GET", route, {key: str(TOO_BIG)}, None, False,
               {400}, key)
    for url in ["/models/abc_corp/claim%00/doc_classification/", "/data-sources/crm%00/",
                "/endpoints/?url=https://a.example.com/%00", "/search/?q=a%00b",
                "/changes/?user=a%00b", "/api/v1/models/?model_name=a%00b",
                "/api/v1/versions/1%00/"]:
        yield (f"GET {url}", "GET", url, None, None, False, {400, 404}, "NUL")


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_a_client_error_naming_the_problem(case, world, client, superuser,
                                                       admin_api):
    label, method, route, query, body, anonymous, expected, named = case
    url = fill(route, world) if route.startswith("/api/") else route
    if url.startswith("/api/"):
        api = APIClient() if anonymous else admin_api
        headers = {}
        if url.endswith("/webhook/"):
            digest = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
            headers["HTTP_X_HUB_SIGNATURE_256"] = f"sha256={digest}"
        response = getattr(api, method.lower())(
            url, data=query if body is None else body.encode(),
            content_type=None if body is None else "application/json", **headers)
    else:
        client.force_login(superuser)
        response = client.get(url, query)

    assert response.status_code in expected, (response.status_code, response.content[:500])
    if response.get("Content-Type", "").startswith("application/json"):
        document = response.json()
        assert named in document or named in json.dumps(document), document
    elif response.status_code == 400:
        assert named in response.content.decode(), response.content[:500]
    assert not CatalogModel.objects.filter(model_name__in=["deep", "fed"]).exists()


@pytest.mark.parametrize("url", ["/api/v1/changes/", "/changes/", "/changes/export.csv"])
def test_changes_until_the_last_day_there_is_list_everything(url, world, client, superuser,
                                                            admin_api):
    client.force_login(superuser)
    getter = admin_api if url.startswith("/api/") else client

    response = getter.get(url, {"until": "9999-12-31"})

    assert response.status_code == 200
    if url == "/api/v1/changes/":
        assert response.json()["count"] == ObjectChange.objects.count() > 0
    if url.endswith(".csv"):
        lines = b"".join(response.streaming_content).decode().strip().splitlines()
        assert len(lines) > ObjectChange.objects.count()  # a header, then every change


def test_validate_input_on_a_stored_schema_that_cannot_resolve_is_a_400(world, admin_api):
    model = world["version"].catalog_model
    # Stored before schemas were checked for references that resolve.
    CatalogModel.objects.filter(pk=model.pk).update(
        inference_input_schema={"$ref": "https://example.com/claim.json"})

    response = admin_api.post(f"/api/v1/models/{model.pk}/validate-input/", {"a": 1},
                              format="json")

    assert response.status_code == 400
    assert "does not resolve" in json.dumps(response.json())


def test_validate_input_on_a_request_too_deep_for_a_recursive_schema_is_a_400(world, admin_api):
    model = world["version"].catalog_model
    admin_api.patch(f"/api/v1/models/{model.pk}/", {"inference": {"input": {"schema": {
        "type": "array", "items": {"$ref": "#"}}}}}, format="json")

    response = admin_api.post(f"/api/v1/models/{model.pk}/validate-input/",
                              data=("[" * 250 + "]" * 250).encode(),
                              content_type="application/json")

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["valid"] is True


def test_schema_references_are_never_fetched(monkeypatch):
    from catalog import jsonschemas

    def no_network(*args, **kwargs):
        raise AssertionError("a schema reference was fetched")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    with pytest.raises(Exception) as refused:
        jsonschemas.check_schema({"$ref": "https://example.com/claim.json"})
    assert "does not resolve" in str(refused.value)
    with pytest.raises(Exception, match="does not resolve"):
        jsonschemas.instance_errors({"$ref": "http://127.0.0.1:9/schema.json"}, {})


def test_a_schema_that_refers_inside_itself_is_kept(world, admin_api):
    schema = {"$defs": {"amount": {"type": "number", "minimum": 0}},
              "type": "object", "properties": {"amount": {"$ref": "#/$defs/amount"}}}
    model = world["version"].catalog_model

    saved = admin_api.patch(f"/api/v1/models/{model.pk}/",
                            {"inference": {"input": {"schema": schema}}}, format="json")
    checked = admin_api.post(f"/api/v1/models/{model.pk}/validate-input/", {"amount": -1},
                             format="json")

    assert saved.status_code == 200, saved.json()
    assert checked.json()["valid"] is False
    assert checked.json()["errors"][0]["path"] == "amount"



@pytest.mark.parametrize("connection", [DEEP_ARRAY, nested(900, "a"), nested(20, "a"),
                                        '{"host": "db\\u0000"}'])
def test_the_admin_refuses_a_connection_it_cannot_keep_with_a_message(client, superuser,
                                                                      connection):
    client.force_login(superuser)

    response = client.post(reverse("admin:catalog_datasource_add"), {
        "name": "deep", "type": "", "description": "", "owner": "", "connection": connection})

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert "connection" in errors, errors
    assert not DataSource.objects.filter(name="deep").exists()
