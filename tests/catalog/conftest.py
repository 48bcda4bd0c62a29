import subprocess
import textwrap
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


class GitRepo:
    """A real git repository in a temporary folder, to commit catalog documents into."""

    def __init__(self, path):
        self.path = path
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args):
        return subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
            cwd=self.path, check=True, capture_output=True, text=True,
        ).stdout.strip()

    @property
    def url(self):
        return f"file://{self.path}"

    def write(self, relative, text):
        file = self.path / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(text).lstrip("\n"))

    def move(self, source, destination):
        (self.path / destination).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", source, destination)

    def remove(self, relative):
        self.git("rm", "--quiet", relative)

    def commit(self, message="Change the cards"):
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


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
