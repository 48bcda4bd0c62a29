import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from mlportal import access
from mlportal.models import Token
from mlportal.services import save_grant, save_new_token

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
    # Login throttling counts in the cache; each test starts with a clean slate.
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
