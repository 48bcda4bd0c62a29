import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import DataSource
from catalog.services import (
    save_catalog_model,
    save_catalog_source,
    save_data_source,
    save_grant,
)
from deployments.models import CloudAccount, DriftFinding
from deployments.services import change_status, record_deployment
from mlportal import access, audit, throttling
from mlportal.models import SignInFailures, Token
from mlportal.services import save_new_token, save_subscription
from registry.models import Alias, Artifact, ModelTag, ModelVersion
from tests.aws import aws, moto_server  # noqa: F401 (fixtures: AWS as moto's server)
from tests.helpers import PROD, STAGING, WEBHOOK_SECRET, day

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def example():
    """The user's own documents (a copy of shared/examples), fresh for each use."""

    def load(name):
        return copy.deepcopy(json.loads((EXAMPLES / f"{name}.json").read_text()))

    return load


@pytest.fixture(autouse=True)
def _static_files_from_apps(settings):
    # Production serves collected, hashed files; tests serve them from the apps as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for production; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Each test starts with a clean cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(django_user_model):
    def make(username, *, perms=(), superuser=False, staff=False, **fields):
        user = django_user_model.objects.create_user(
            username=username, password=f"{username}-password", is_superuser=superuser,
            is_staff=staff or superuser, **fields,
        )
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make


@pytest.fixture
def window_used_up_meanwhile(monkeypatch):
    """Other workers' failed sign-ins use up the client address's window after a sign-in's
    first look at it (retry_after) and before the backend takes its own attempt."""
    take_attempt = throttling.take_attempt

    def used_up_first(address):
        allowed, _ = throttling._rate()
        SignInFailures.objects.update_or_create(
            address=address, defaults={"window_start": timezone.now(), "count": allowed})
        return take_attempt(address)

    monkeypatch.setattr(throttling, "take_attempt", used_up_first)


@pytest.fixture
def grant():
    """Give a user or a group a role ("editor" or "owner") on a namespace (created if new)."""

    def give(grantee, namespace, role="editor"):
        kind = "group" if isinstance(grantee, Group) else "user"
        return save_grant(namespace=namespace, role=role, **{kind: grantee})

    return give


@pytest.fixture
def auditor(make_user):
    """A member of the auditors group."""
    user = make_user("auditor")
    user.groups.add(Group.objects.get_or_create(name=access.AUDITORS_GROUP)[0])
    return user


@pytest.fixture
def superuser(make_user):
    return make_user("root", superuser=True)


@pytest.fixture
def reader(make_user):
    """A signed-in user with no write rights."""
    return make_user("reader")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client that authenticates as `user` with a real token."""

    def make(user, **token_fields):
        client = APIClient()
        key = save_new_token(Token(user=user, **token_fields))
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def admin_api(client_for, superuser):
    return client_for(superuser)


@pytest.fixture
def reader_api(client_for, reader):
    return client_for(reader)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, test in a database file rather than in memory: threads of a transactional
    test then reach it through connections of their own and queue on SQLite's write lock, as
    processes do in production (in memory they share one cache, where a second writer fails
    at once instead of waiting). The file lives in memory too (/dev/shm) where there is one."""
    from django.db import connections

    database = connections["default"].settings_dict
    if not database["ENGINE"].endswith(".sqlite3") or database["TEST"]["NAME"]:
        yield
        return
    shm = Path("/dev/shm")
    directory = tempfile.mkdtemp(prefix="mlportal-tests-", dir=shm if shm.is_dir() else None)
    database["TEST"]["NAME"] = str(Path(directory) / "test.sqlite3")
    yield
    shutil.rmtree(directory, ignore_errors=True)


# Catalog, registry and deployments as the pages' and the admin's tests see them.


@pytest.fixture
def catalog(example, superuser):
    with audit.change_context(user=superuser, source="api"):
        doc = save_catalog_model(**example("catalog_model"))
        save_data_source(instance=DataSource.objects.get(name="claim history datawarehouse"),
                         connection={"account": "abc", "password": "planted-secret"})
        fraud = save_catalog_model(
            namespace="/abc_corp/claim", model_name="fraud_scoring", owner="bob@example.com",
            description="Scores claims for fraud",
            data_sources=[{"name": "claim history datawarehouse"},
                          {"name": "policy events", "type": "kafka"}])
        save_catalog_model(namespace="/xyz_bank/cards", model_name="churn.v2",
                           owner="carol@example.com", description="Who will not renew",
                           data_sources=[{"name": "crm", "type": "postgres"}])
        for number in (1, 2):
            ModelVersion.objects.create(catalog_model=doc, model_version=number,
                                        description=f"retrained {number}",
                                        created_by="arn:aws:iam::123456789012:user/alice")
        ModelVersion.objects.create(catalog_model=fraud, model_version=1,
                                    description="first gradient boosting", status="deprecated")
    return doc


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def deployed(catalog, superuser):
    """doc_classification: v1 then v2 at PROD (v3 beside it as a 10% canary), v2 at STAGING
    (retired); fraud_scoring v1 at its own endpoint on Lambda."""
    versions = {v.model_version: v for v in catalog.versions.all()}
    with audit.change_context(user=superuser, source="api"):
        versions[3] = ModelVersion.objects.create(catalog_model=catalog, model_version=3)
        Artifact.objects.create(version=versions[2], name="trained",
                                uri="s3://abc_corp/claim/doc_classification/trained/2.tar.gz")
        record_deployment(model_version=versions[1], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="blue_green",
                          create_at=day(1, 15))
        record_deployment(model_version=versions[2], endpoint=STAGING, environment="staging",
                          deployment_method="eks", rolling_strategy="rolling",
                          create_at=day(2, 1))
        record_deployment(model_version=versions[2], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="blue_green",
                          create_at=day(3, 1))
        record_deployment(model_version=versions[3], endpoint=PROD, environment="prod",
                          deployment_method="ecs", rolling_strategy="canary",
                          traffic_percent=10, create_at=day(6, 1))
        staging = catalog.deployments.get(endpoint=STAGING)
        change_status(deployment=staging, status="retired", at=day(4, 1))
        fraud = ModelVersion.objects.get(catalog_model__model_name="fraud_scoring")
        record_deployment(model_version=fraud, endpoint="https://fraud.example.com/score",
                          environment="prod", deployment_method="lambda",
                          rolling_strategy="rolling", create_at=day(5, 1))
    return catalog


@pytest.fixture
def world(deployed, superuser, grant):
    """Everything the API serves, so that every route with an id finds its row."""
    version = ModelVersion.objects.get(catalog_model=deployed, model_version=2)
    alias = Alias.objects.create(catalog_model=deployed, version=version, name="champion")
    tag = ModelTag.objects.create(catalog_model=deployed, key="team", value="claims")
    subscription = save_subscription(url="https://hooks.example.com/portal", user=superuser)
    given = grant(superuser, "/abc_corp/claim")
    source = save_catalog_source(repository="/nonexistent/cards", ref="main",
                                 webhook_secret=WEBHOOK_SECRET)
    account = CloudAccount.objects.create(
        name="prod", account_id="123456789012", regions="us-east-1",
        role_arn="arn:aws:iam::123456789012:role/mlportal-reader")
    deployment = deployed.deployments.first()
    finding = DriftFinding.objects.create(
        account=account, deployment=deployment, kind="env_added", subject="NEW",
        expected="(not recorded)", found="1", key=f"env_added|{deployment.pk}||NEW")
    ids = {
        "namespaces": deployed.namespace.pk, "models": deployed.pk,
        "data-sources": deployed.data_sources.first().pk, "versions": version.pk,
        "deployments": deployed.deployments.first().pk, "aliases": alias.pk,
        "grants": given.pk, "catalog-sources": source.pk, "model-tags": tag.pk,
        "webhooks": subscription.pk, "cloud-accounts": account.pk, "drift": finding.pk,
    }
    return {"ids": ids, "version": version, "source": source}


@pytest.fixture
def tasks_in_process(settings, django_capture_on_commit_callbacks):
    """Run the tasks queued inside the block in this process, when the block ends (as the
    commit would hand them to a worker): `with tasks_in_process(): ...`. The real worker
    process is tested in tests/mlportal/test_events.py and tests/catalog/test_sync_queue.py."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


class Receiver:
    """A real HTTP server on 127.0.0.1 (a thread) that records the webhooks it receives and
    answers each with the next status of `statuses` (the last one repeats)."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.requests = []
        self.statuses = [200]
        self.headers_out = {}
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body})
                    index = min(len(receiver.requests), len(receiver.statuses)) - 1
                    status = receiver.statuses[index]
                answer = b'{"received": true}'
                self.send_response(status)
                for name, value in receiver.headers_out.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """A local webhook receiver, reachable because the settings allow http and 127.0.0.1
    for this test (production allows neither)."""
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": True,
                                  "ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    server = Receiver()
    yield server
    server.stop()


def database_url(settings_dict):
    """DATABASE_URL of the database the tests use (the test database, once created)."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{settings_dict['NAME']}"


def eventually(check, *, timeout=30, interval=0.1, what="the condition"):
    """Poll `check()` until it returns something true; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Waited {timeout} s for {what}.")
        time.sleep(interval)


# Fast retries for the worker processes of the tests (production: 30 s doubling for a day).
WORKER_ENVIRONMENT = {
    "MLPORTAL_WEBHOOKS_ALLOW_HTTP": "1",
    "MLPORTAL_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.1/32",
    "MLPORTAL_WEBHOOKS_BACKOFF_BASE": "0.2",
    "MLPORTAL_WEBHOOKS_BACKOFF_MAX": "1",
    "MLPORTAL_WEBHOOKS_READ_TIMEOUT": "2",
    "MLPORTAL_SYNC_BUSY_RETRY_SECONDS": "0.3",
    "DJANGO_LOG_LEVEL": "WARNING",
}


@pytest.fixture
def worker(transactional_db, tmp_path, settings):
    """Start real `manage.py db_worker` processes on the test database: `worker(**env)`.
    The test's own writes are committed (transactional_db), so the worker sees them."""
    import os
    import subprocess
    import sys

    from django.db import connection

    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": True,
                                  "ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    processes = []
    root = Path(__file__).resolve().parent.parent

    def start(**environment):
        log = open(tmp_path / f"worker-{len(processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1",
             "--no-startup-delay", "--no-reload", "--worker-id", f"test-{len(processes)}"],
            cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **WORKER_ENVIRONMENT, **environment,
                 "DATABASE_URL": database_url(connection.settings_dict)},
        )
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def worker_log(tmp_path):
    """The output of the test's workers, for assertion messages."""

    def read():
        return "\n".join(path.read_text() for path in sorted(tmp_path.glob("worker-*.log")))

    return read
