"""The real, unmodified MLflow client (mlflow-skinny) against a live portal server."""

import gc

import pytest

from catalog.services import save_grant
from mlportal.models import Token
from mlportal.services import save_new_token


@pytest.fixture
def mlflow_uri(live_server, monkeypatch):
    """Point the MLflow client at the live portal (tracking and registry), without retries,
    so that an error answers at once."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                 "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    import mlflow

    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)
    yield live_server.url
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    # The client keeps its HTTP connections alive in cached sessions, and the live server a
    # thread and a database session for each: drop them, or the test database cannot be
    # dropped at the end.
    from mlflow.utils.request_utils import _cached_get_request_session

    _cached_get_request_session.cache_clear()
    gc.collect()


@pytest.fixture
def mlflow_as(mlflow_uri, monkeypatch):
    """An MlflowClient that signs in as `user`: with a portal token (Bearer, from
    MLFLOW_TRACKING_TOKEN) or with the user's password (Basic), or anonymous (None)."""
    from mlflow import MlflowClient

    def make(user=None, *, basic=False, **token_fields):
        for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                     "MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        if user is not None and basic:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user.username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", f"{user.username}-password")
        elif user is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN",
                               save_new_token(Token(user=user, **token_fields)))
        return MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)

    return make


@pytest.fixture
def owner(make_user):
    """Owner of /abc_corp (and so of /abc_corp/claim) and of the default namespace /mlflow."""
    user = make_user("owner", email="owner@example.com")
    save_grant(namespace="/abc_corp", role="owner", user=user)
    save_grant(namespace="/mlflow", role="owner", user=user)
    return user


@pytest.fixture
def outsider(make_user):
    """An editor, of another namespace."""
    user = make_user("outsider")
    save_grant(namespace="/other_team", role="editor", user=user)
    return user
