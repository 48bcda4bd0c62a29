"""The OpenAPI schema tells the truth (issue 16, item 11): schemathesis generates requests for
every operation of /api/schema/ and checks that no answer is a 500 and that every answer
matches the schema it documents. A short, repeatable pass (fixed seed, few examples) against
the WSGI app, authenticated with a token, on data where the ids in the paths exist.

The longer pass against a running server is in the README (OpenAPI conformance)."""

import subprocess

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from catalog.models import CatalogSource, CatalogSync
from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token
from mlportal.wsgi import application

pytestmark = pytest.mark.django_db

EXAMPLES = 6


# Fuzzing only, a fixed seed: the coverage phase's boundary cases take minutes, not seconds.
CONFIG = SchemathesisConfig.from_dict({
    "seed": 1,
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
               "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


@pytest.fixture(autouse=True)
def _connection_outlives_requests():
    # As Django's test client does: the test's database connection (and its transaction)
    # outlives each request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token(superuser):
    return save_new_token(Token(user=superuser, description="schemathesis"))


@pytest.fixture
def ids(world, superuser, tmp_path):
    """The id a generated path names, per resource: rows that exist (a catalog source reads
    a real, empty repository)."""
    for command in (["init", "-q", "-b", "main"],
                    ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
                     "--allow-empty", "-m", "empty"]):
        subprocess.run(["git", "-C", str(tmp_path), *command], check=True)
    CatalogSource.objects.filter(pk=world["source"].pk).update(repository=str(tmp_path))
    spare = Token(user=superuser, description="revoked by the tests")
    save_new_token(spare)
    sync = CatalogSync.objects.create(source=world["source"], trigger="api")
    return {**world["ids"], "tokens": spare.pk, "changes": ObjectChange.objects.first().pk,
            "version_pk": world["version"].pk, "name": "trained", "catalog-syncs": sync.pk}


def _with_rows(case, ids):
    resource = case.operation.path.split("/")[3]
    for name in list(case.path_parameters or {}):
        case.path_parameters[name] = ids[name] if name in ids else ids[resource]


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_schema_and_none_is_a_server_error(case, token, ids):
    _with_rows(case, ids)

    response = case.call(headers={"Authorization": f"Token {token}"})

    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
