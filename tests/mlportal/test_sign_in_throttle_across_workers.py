"""The sign-in throttle counts in the database (issue 16, item 9): every worker process of a
real gunicorn counts together, and concurrent failures cannot slip past the limit."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from mlportal.models import SignInFailures

LIMIT = 5
ATTEMPTS = 30


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url():
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    user = database["USER"] or "postgres"
    return (f"postgres://{user}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}")


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """The portal under gunicorn with two worker processes, on the test database."""
    port = _free_port()
    access_log = tmp_path / "access.log"
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("DJANGO_", "MLPORTAL_"))}
    environment |= {"DATABASE_URL": _database_url(), "MLPORTAL_LOGIN_RATE": f"{LIMIT}/hour",
                    "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mlportal.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--access-logfile", str(access_log),
         "--access-logformat", "%(p)s %(s)s"],
        cwd=settings.BASE_DIR, env=environment, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("gunicorn did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", access_log
    server.terminate()
    server.wait(timeout=30)


def _sign_in(base_url):
    request = urllib.request.Request(
        f"{base_url}/api/v1/auth/token/",
        data=json.dumps({"username": "nobody", "password": "guess"}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_limit_holds_across_worker_processes_under_concurrent_failures(gunicorn):
    base_url, access_log = gunicorn
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: _sign_in(base_url), range(ATTEMPTS)))

    assert statuses.count(400) == LIMIT, statuses  # wrong credentials, checked
    assert statuses.count(429) == ATTEMPTS - LIMIT, statuses  # refused unchecked
    workers = {line.split()[0] for line in access_log.read_text().splitlines() if line.strip()}
    assert len(workers) == 2, "both worker processes answered"
    assert SignInFailures.objects.get(address="127.0.0.1").count == LIMIT
