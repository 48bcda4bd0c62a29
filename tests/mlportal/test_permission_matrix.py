"""The permission matrix: every role against every API endpoint and every admin page, reading
and writing, each with its expected status.

Endpoints and admin pages are found from the URL conf and the admin site: a new one fails
`test_every_api_endpoint_is_in_the_matrix` (or the admin one) until it has its row below,
and a row whose route disappears fails `test_every_row_of_the_matrix_is_routed`.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import CatalogModel, CatalogSource, CatalogSync, DataSource
from catalog.services import ensure_namespace, save_catalog_model, save_data_source, save_grant
from mlportal import access
from mlportal.models import Event, ObjectChange, Token, WebhookSubscription
from mlportal.services import save_new_token, save_subscription, send_test_event
from mlportal.tasks import dispatch_event
from tests.helpers import GitRepo
from tests.routes import api_endpoints

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ROLES = ["anonymous", "plain", "editor_here", "editor_elsewhere", "owner", "auditor",
         "superuser"]
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EDITORS = frozenset({"editor_here", "editor_elsewhere", "owner", "superuser"})
HERE_WRITERS = frozenset({"editor_here", "owner", "superuser"})
OWNERS = frozenset({"owner", "superuser"})
AUDIT_READERS = frozenset({"auditor", "superuser"})
SUPERUSER = frozenset({"superuser"})
NOBODY = frozenset()

# Endpoints whose rule is not a role: tested on their own.
EXEMPT = {
    ("/api/v1/auth/token/", "POST"): "sign-in with a password (tests/mlportal/test_tokens.py)",
    ("/api/v1/catalog-sources/{pk}/webhook/", "POST"):
        "signed with the source's webhook secret (tests/catalog/test_catalog_sources.py)",
    ("/api/v1/drift/{pk}/record/", "POST"):
        "reads the resource again from AWS: against moto's server in "
        "tests/deployments/test_drift.py; refusals in tests/deployments/test_drift_api.py",
}


def example(name, **changes):
    return json.loads((EXAMPLES / f"{name}.json").read_text()) | changes


@dataclass
class World:
    """/here and /elsewhere, a model in each, and the user playing the role."""

    role: str
    user: object
    make_user: object
    root: APIClient = field(repr=False)
    folder: Path = None
    client: APIClient = field(default=None, repr=False)
    own_token: int = 0

    def catalog_source(self, name):
        """A catalog source reading a real, empty git repository."""
        (self.folder / name).mkdir()
        repository = GitRepo(self.folder / name)
        repository.commit("Empty")
        return CatalogSource.objects.create(repository=repository.url, ref="main").pk

    def via_api(self, path, document):
        """Create through the API as a superuser (for resources built by other apps)."""
        response = self.root.post(path, document, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def subscription(self, name):
        return save_subscription(namespace="/here", url=f"https://hooks.example.com/{name}").pk

    def delivery(self):
        subscription = WebhookSubscription.objects.get(pk=self.subscription("delivered"))
        return {"pk": subscription.pk,
                "delivery_pk": send_test_event(subscription=subscription).pk}

    def catalog_sync(self):
        source = CatalogSource.objects.get(pk=self.catalog_source("syncs"))
        return CatalogSync.objects.create(source=source, status="succeeded")

    def version(self):
        """A new version of /here/m, through the registry's API."""
        return self.via_api("/api/v1/versions/", example(
            "model_version", namespace="/here", model_name="m"))

    def deployment_document(self, **fields):
        """The example deployment, of version 1 of /here/m."""
        if not apps.get_model("registry.ModelVersion").objects.filter(
                catalog_model__namespace__path="/here", model_version=1).exists():
            self.version()
        return example("deployment", namespace="/here", model_name="m", model_version=1,
                       **fields)

    def deployment(self, **fields):
        return self.via_api("/api/v1/deployments/", self.deployment_document(**fields))

    def canary(self):
        return self.deployment(rolling_strategy="canary", traffic_percent=10)

    def alias_document(self, name):
        self.version()
        return {"namespace": "/here", "model_name": "m", "alias": name, "model_version": 1}

    def cloud_account(self, name):
        from deployments.models import CloudAccount

        return CloudAccount.objects.create(
            name=name, account_id="123456789012", regions="us-east-1",
            role_arn="arn:aws:iam::123456789012:role/mlportal-reader").pk

    def drift_finding(self):
        """An open finding about a deployment in /here."""
        from deployments.models import CloudAccount, Deployment, DriftFinding

        deployment = Deployment.objects.get(pk=self.deployment())
        account = CloudAccount.objects.get(pk=self.cloud_account("checked"))
        return DriftFinding.objects.create(
            account=account, deployment=deployment, kind="env_added", subject="NEW",
            expected="(not recorded)", found="1", key=f"env_added|{deployment.pk}||NEW")

    def uploaded_artifact(self):
        version = self.version()
        response = self.root.post(f"/api/v1/versions/{version}/artifacts/", {
            "name": "weights", "file": SimpleUploadedFile("weights.bin", b"0101")},
            format="multipart")
        assert response.status_code == 201, response.content
        return {"version_pk": version, "name": "weights"}


@pytest.fixture(autouse=True)
def local_artifacts(settings, tmp_path):
    """Uploaded artifacts in a directory of the test's own."""
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None},
    }}


@pytest.fixture
def world_for(make_user, client_for, tmp_path):
    def build(role):
        root = make_user("root", superuser=True)
        save_catalog_model(namespace="/here", model_name="m",
                           data_sources=[{"name": "here source", "type": "postgres"}])
        save_catalog_model(namespace="/elsewhere", model_name="m")
        user = None if role == "anonymous" else make_user(role, superuser=role == "superuser")
        if role in {"editor_here", "owner"}:
            save_grant(namespace="/here", user=user, role="owner" if role == "owner" else "editor")
        elif role == "editor_elsewhere":
            save_grant(namespace="/elsewhere", user=user)
        elif role == "auditor":
            user.groups.add(Group.objects.get_or_create(name=access.AUDITORS_GROUP)[0])
        save_new_token(Token(user=user or root))
        world = World(role=role, user=user, make_user=make_user, root=client_for(root),
                      folder=tmp_path)
        world.own_token = Token.objects.filter(user=user or root).first().pk
        world.client = client_for(user) if user else APIClient()
        return world

    return build


@dataclass(frozen=True)
class Resource:
    path: str
    create: object  # (world, name) -> the document a POST sends
    make: object  # (world, name) -> id of a row in /here
    readers: frozenset = SIGNED_IN
    creators: frozenset = HERE_WRITERS
    changers: frozenset = HERE_WRITERS
    deleters: frozenset = HERE_WRITERS
    make_deletable: object = None  # (world, name) -> id of a row nothing depends on
    # Methods the resource does not offer (not routed: test_methods_not_offered_are_not_routed).
    not_offered: frozenset = frozenset()


def model_tag(key):
    from registry.services import set_model_tag

    return set_model_tag(catalog_model=CatalogModel.objects.get(
        namespace__path="/here", model_name="m"), key=key, value="v")


def grant_in_here_sub(world, name):
    return save_grant(namespace="/here/sub", user=world.make_user(name)).pk


RESOURCES = [
    Resource(
        "/api/v1/namespaces/",
        create=lambda w, name: {"path": f"/here/{name}"},
        make=lambda w, name: ensure_namespace(f"/here/{name}").pk,
    ),
    Resource(
        "/api/v1/models/",
        create=lambda w, name: {"namespace": "/here", "model_name": name},
        make=lambda w, name: save_catalog_model(namespace="/here", model_name=name).pk,
    ),
    Resource(
        "/api/v1/data-sources/",
        create=lambda w, name: {"name": name},
        # Changing one needs a grant on every namespace it feeds: this one feeds /here.
        make=lambda w, name: DataSource.objects.get(name="here source").pk,
        creators=EDITORS,
        # Nothing uses this one: any editor may remove it.
        make_deletable=lambda w, name: save_data_source(name=name).pk,
        deleters=EDITORS,
    ),
    Resource(
        "/api/v1/grants/",
        create=lambda w, name: {"namespace": "/here", "user": w.make_user(name).username,
                                "role": "editor"},
        make=grant_in_here_sub,
        creators=OWNERS, changers=OWNERS, deleters=OWNERS,
    ),
    # Catalog sources sync models into any namespace: superusers manage them.
    Resource(
        "/api/v1/catalog-sources/",
        create=lambda w, name: {"repository": "https://git.example.com/cards.git"},
        make=lambda w, name: w.catalog_source(name),
        creators=SUPERUSER, changers=SUPERUSER, deleters=SUPERUSER,
    ),
    # Webhook subscriptions: owners of the namespace manage and see them.
    Resource(
        "/api/v1/webhooks/",
        create=lambda w, name: {"namespace": "/here", "url": f"https://hooks.example.com/{name}"},
        make=lambda w, name: w.subscription(name),
        readers=OWNERS, creators=OWNERS, changers=OWNERS, deleters=OWNERS,
    ),
    Resource(
        "/api/v1/tokens/",
        create=None,
        make=lambda w, name: w.own_token,
        readers=SIGNED_IN,
        # Issued by POST /api/v1/auth/token/ or the admin; revoked, never edited or deleted.
        not_offered=frozenset({"POST", "PATCH", "PUT", "DELETE"}),
    ),
    Resource(
        "/api/v1/versions/",
        create=lambda w, name: example("model_version", namespace="/here", model_name="m"),
        make=lambda w, name: w.version(),
        not_offered=frozenset({"DELETE"}),  # deprecated, never deleted
    ),
    Resource(
        "/api/v1/aliases/",
        create=lambda w, name: w.alias_document(name),
        make=lambda w, name: w.via_api("/api/v1/aliases/", w.alias_document(name)),
        not_offered=frozenset({"PATCH", "PUT"}),  # moved by posting it again
    ),
    Resource(
        "/api/v1/model-tags/",
        create=lambda w, name: {"namespace": "/here", "model_name": "m", "key": name,
                                "value": "v"},
        make=lambda w, name: model_tag(name).pk,
    ),
    Resource(
        "/api/v1/deployments/",
        create=lambda w, name: w.deployment_document(),
        make=lambda w, name: w.deployment(),
        not_offered=frozenset({"DELETE"}),  # history: retired, never deleted
    ),
    # Cloud accounts are read by everyone; superusers manage them.
    Resource(
        "/api/v1/cloud-accounts/",
        create=lambda w, name: {"name": name, "account_id": "123456789012",
                                "regions": ["us-east-1"],
                                "role_arn": "arn:aws:iam::123456789012:role/reader"},
        make=lambda w, name: w.cloud_account(name),
        creators=SUPERUSER, changers=SUPERUSER, deleters=SUPERUSER,
    ),
    # Findings are written by the drift checks only.
    Resource(
        "/api/v1/drift/",
        create=None,
        make=lambda w, name: w.drift_finding().pk,
        not_offered=frozenset({"POST", "PATCH", "PUT", "DELETE"}),  # read-only
    ),
    Resource(
        "/api/v1/changes/",
        create=None,
        make=lambda w, name: ObjectChange.objects.order_by("pk").first().pk,
        readers=AUDIT_READERS,
        not_offered=frozenset({"POST", "PATCH", "PUT", "DELETE"}),  # read-only
    ),
]


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    allowed: frozenset
    success: int
    target: object = None  # (world) -> id for the route's {pk}, or {placeholder: value}
    data: object = None  # (world) -> document

    def __str__(self):
        return f"{self.method} {self.route}"


def representation(world, url):
    return world.root.get(url).json()


def resource_cases(resource):
    detail = resource.path + "{pk}/"

    make, create = resource.make, resource.create
    deletable = resource.make_deletable or resource.make
    return [
        Case(resource.path, "GET", resource.readers, 200),
        Case(resource.path, "POST", resource.creators, 201,
             data=create and (lambda w: create(w, "new"))),
        Case(detail, "GET", resource.readers, 200, target=lambda w: make(w, "one")),
        Case(detail, "PATCH", resource.changers, 200, target=lambda w: make(w, "one"),
             data=lambda w: {}),
        Case(detail, "PUT", resource.changers, 200, target=lambda w: make(w, "one"),
             data=representation),
        Case(detail, "DELETE", resource.deleters, 204, target=lambda w: deletable(w, "gone")),
    ]


EXTRA_CASES = [
    # The API's index: signed-in users only, and it only reads.
    Case("/api/v1/", "GET", SIGNED_IN, 200),
    Case("/api/v1/auth/whoami/", "GET", SIGNED_IN, 200),
    # Checking a payload against the model's input schema only reads.
    Case("/api/v1/models/{pk}/validate-input/", "POST", SIGNED_IN, 200,
         target=lambda w: save_catalog_model(namespace="/here", model_name="v").pk,
         data=lambda w: {}),
    Case("/api/v1/tokens/{pk}/revoke/", "POST", SIGNED_IN, 200, target=lambda w: w.own_token),
    # A sync is queued (202) for a worker.
    Case("/api/v1/catalog-sources/{pk}/sync/", "POST", SUPERUSER, 202,
         target=lambda w: w.catalog_source("synced")),
    Case("/api/v1/catalog-sources/{pk}/syncs/", "GET", SIGNED_IN, 200,
         target=lambda w: w.catalog_sync().source_id),
    Case("/api/v1/catalog-syncs/", "GET", SIGNED_IN, 200),
    Case("/api/v1/catalog-syncs/{pk}/", "GET", SIGNED_IN, 200,
         target=lambda w: w.catalog_sync().pk),
    Case("/api/v1/webhooks/{pk}/test/", "POST", OWNERS, 202,
         target=lambda w: w.subscription("tested")),
    Case("/api/v1/webhooks/{pk}/deliveries/", "GET", OWNERS, 200,
         target=lambda w: w.delivery()["pk"]),
    Case("/api/v1/webhooks/{pk}/deliveries/{delivery_pk}/", "GET", OWNERS, 200,
         target=lambda w: w.delivery()),
    Case("/api/v1/webhooks/{pk}/deliveries/{delivery_pk}/redeliver/", "POST", OWNERS, 202,
         target=lambda w: w.delivery()),
    Case("/api/v1/deployments/{pk}/promote/", "POST", HERE_WRITERS, 200,
         target=lambda w: w.canary()),
    # A canary rolled back stops; what it ran beside serves on.
    Case("/api/v1/deployments/{pk}/rollback/", "POST", HERE_WRITERS, 200,
         target=lambda w: w.canary()),
    Case("/api/v1/versions/{pk}/deprecate/", "POST", HERE_WRITERS, 200,
         target=lambda w: w.version()),
    Case("/api/v1/versions/{version_pk}/artifacts/", "GET", SIGNED_IN, 200,
         target=lambda w: {"version_pk": w.version()}),
    Case("/api/v1/versions/{version_pk}/artifacts/", "POST", HERE_WRITERS, 201,
         target=lambda w: {"version_pk": w.version()},
         data=lambda w: {"name": "linked", "uri": "s3://bucket/here/m/linked.bin"}),
    Case("/api/v1/versions/{version_pk}/artifacts/{name}/", "GET", SIGNED_IN, 200,
         target=lambda w: w.uploaded_artifact()),
    Case("/api/v1/versions/{version_pk}/artifacts/{name}/download/", "GET", SIGNED_IN, 200,
         target=lambda w: w.uploaded_artifact()),
    # The API root lists the resources to whoever is signed in.
    Case("/api/v1/", "GET", SIGNED_IN, 200),
    Case("/api/v1/auth/whoami/", "GET", SIGNED_IN, 200),
]

ROUTED = api_endpoints()
CASES = [
    case for resource in RESOURCES for case in resource_cases(resource)
    if case.method not in resource.not_offered
] + EXTRA_CASES
NOT_OFFERED = {
    (case.route, case.method) for resource in RESOURCES for case in resource_cases(resource)
    if case.method in resource.not_offered
}


def test_every_row_of_the_matrix_is_routed():
    unrouted = sorted({(case.route, case.method) for case in CASES} - ROUTED)
    assert not unrouted, f"The matrix tests endpoints that are not routed: {unrouted}"


def test_methods_not_offered_are_not_routed():
    assert not NOT_OFFERED & ROUTED


def test_every_api_endpoint_is_in_the_matrix():
    covered = {(case.route, case.method) for case in CASES} | set(EXEMPT)
    missing = sorted(ROUTED - covered)
    assert not missing, f"Add these endpoints to the permission matrix: {missing}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_api(world_for, case, role):
    world = world_for(role)
    url = case.route
    if case.target is not None:
        target = case.target(world)
        for name, value in (target if isinstance(target, dict) else {"pk": target}).items():
            url = url.replace(f"{{{name}}}", str(value))
    data = None
    if case.data is representation:
        data = representation(world, url)
    elif case.data is not None:
        data = case.data(world)

    response = getattr(world.client, case.method.lower())(url, data, format="json")

    if role in case.allowed:
        expected = case.success
    else:
        expected = 401 if role == "anonymous" else 403
    assert response.status_code == expected, response.content[:500]


@dataclass(frozen=True)
class AdminRow:
    readers: frozenset  # see the changelist and change pages
    adders: frozenset  # get the add page
    changers: frozenset  # may change the row `obj` returns
    obj: object  # (world) -> a row


ADMIN = {
    "catalog.namespace": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS,
                                  lambda w: ensure_namespace("/here/sub")),
    "catalog.catalogmodel": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS, lambda w: save_catalog_model(
        namespace="/here", model_name="admin")),
    "catalog.datasource": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS,
                                   lambda w: DataSource.objects.get(name="here source")),
    "catalog.catalogsource": AdminRow(SIGNED_IN, SUPERUSER, SUPERUSER,
                                      lambda w: row("catalog.CatalogSource",
                                                    pk=w.catalog_source("admin"))),
    "mlportal.grant": AdminRow(SIGNED_IN, OWNERS, OWNERS,
                               lambda w: save_grant(namespace="/here/sub",
                                                    user=w.make_user("grantee"))),
    "mlportal.token": AdminRow(SIGNED_IN, SIGNED_IN, SIGNED_IN,
                               lambda w: Token.objects.get(pk=w.own_token)),
    "mlportal.objectchange": AdminRow(AUDIT_READERS, NOBODY, NOBODY,
                                      lambda w: ObjectChange.objects.first()),
    "mlportal.webhooksubscription": AdminRow(OWNERS, OWNERS, OWNERS, lambda w: row(
        "mlportal.WebhookSubscription", pk=w.subscription("admin"))),
    "mlportal.webhookdelivery": AdminRow(OWNERS, NOBODY, NOBODY, lambda w: row(
        "mlportal.WebhookDelivery", pk=w.delivery()["delivery_pk"])),
    # Events carry documents of every namespace: read like the audit trail.
    "mlportal.event": AdminRow(AUDIT_READERS, NOBODY, NOBODY, lambda w: Event.objects.first()),
    "catalog.catalogsync": AdminRow(SIGNED_IN, NOBODY, NOBODY, lambda w: w.catalog_sync()),
    # The task queue's rows: superusers only.
    "django_tasks_database.dbtaskresult": AdminRow(SUPERUSER, NOBODY, NOBODY, lambda w: row(
        "django_tasks_database.DBTaskResult",
        pk=dispatch_event.enqueue(str(Event.objects.first().pk)).id)),
    # Built on other branches; checked once registered.
    "registry.modelversion": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS, lambda w: row(
        "registry.ModelVersion", pk=w.version())),
    # Nothing registered is changed: artifacts are uploaded from their version's page,
    # aliases set there.
    "registry.artifact": AdminRow(SIGNED_IN, NOBODY, NOBODY, lambda w: row(
        "registry.Artifact", name="weights", version_id=w.uploaded_artifact()["version_pk"])),
    "registry.alias": AdminRow(SIGNED_IN, NOBODY, NOBODY, lambda w: row(
        "registry.Alias", pk=w.via_api("/api/v1/aliases/", w.alias_document("champion")))),
    "registry.modeltag": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS,
                                  lambda w: model_tag("team")),
    "deployments.deployment": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS, lambda w: row(
        "deployments.Deployment", pk=w.deployment())),
    "deployments.cloudaccount": AdminRow(SIGNED_IN, SUPERUSER, SUPERUSER, lambda w: row(
        "deployments.CloudAccount", pk=w.cloud_account("admin"))),
    "deployments.driftfinding": AdminRow(SIGNED_IN, NOBODY, NOBODY,
                                         lambda w: w.drift_finding()),
    # Claimed by the first deployment at it; may be claimed ahead, or handed over, here.
    "deployments.endpoint": AdminRow(SIGNED_IN, EDITORS, HERE_WRITERS, lambda w: row(
        "deployments.Endpoint", url=row("deployments.Deployment", pk=w.deployment()).endpoint)),
    "auth.user": AdminRow(SUPERUSER, SUPERUSER, SUPERUSER, lambda w: w.make_user("someone")),
    "auth.group": AdminRow(SUPERUSER, SUPERUSER, SUPERUSER,
                           lambda w: Group.objects.create(name="some team")),
}
def row(label, **lookup):
    return apps.get_model(label)._default_manager.get(**lookup)


REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def test_every_admin_page_is_in_the_matrix():
    missing = sorted(set(REGISTERED) - set(ADMIN))
    assert not missing, f"Add these admin pages to the permission matrix: {missing}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(set(ADMIN) & set(REGISTERED)))
def test_admin(world_for, label, role):
    world = world_for(role)
    row = ADMIN[label]
    obj = row.obj(world)
    client = Client()
    if world.user is not None:
        client.force_login(world.user)
    base = "admin:" + label.replace(".", "_")

    changelist = client.get(reverse(f"{base}_changelist"))
    add = client.get(reverse(f"{base}_add"))
    change = client.get(reverse(f"{base}_change", args=[obj.pk]))

    if role == "anonymous":
        assert {changelist.status_code, add.status_code, change.status_code} == {302}
        assert changelist["Location"].startswith(reverse("admin:login"))
        return
    reads = role in row.readers
    assert changelist.status_code == (200 if reads else 403)
    assert add.status_code == (200 if role in row.adders else 403)
    assert change.status_code == (200 if reads else 403)
    if reads:
        assert change.context["has_change_permission"] == (role in row.changers)


def test_every_admin_page_and_inline_follows_the_access_rule():
    from mlportal.admin import PortalInline, PortalModelAdmin

    portal_models = {label for label in REGISTERED if not label.startswith("auth.")}
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower not in portal_models:
            continue
        assert isinstance(model_admin, PortalModelAdmin), model
        for inline in model_admin.inlines:
            assert issubclass(inline, PortalInline), f"{inline} of {model}"
