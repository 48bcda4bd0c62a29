from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.helpers import GitRepo


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "cards-repo"
    path.mkdir()
    return GitRepo(path)


@pytest.fixture
def run_sync():
    """Run `manage.py sync_catalog`: (exit status, stdout, stderr)."""

    def run(*args):
        stdout, stderr = StringIO(), StringIO()
        try:
            call_command("sync_catalog", *[str(arg) for arg in args], stdout=stdout,
                         stderr=stderr)
        except CommandError as exc:
            return 1, stdout.getvalue(), stderr.getvalue() + str(exc)
        return 0, stdout.getvalue(), stderr.getvalue()

    return run
