"""Reading files from a Git repository at a ref, through the git command line.

A local path is read in place with `git -C <path>` (ls-tree, cat-file), which never
touches its working tree; a URL is fetched (one commit, no history) into a temporary
bare repository that is removed afterwards.
"""

import os
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass

from catalog.validators import validate_ref, validate_repository, validate_subdirectory

GIT_TIMEOUT_SECONDS = 300


class GitError(Exception):
    """git could not read the repository or the ref; the message says why."""


@dataclass(frozen=True)
class GitFile:
    path: str
    size: int
    data: bytes | None  # None when larger than the reader's limit


@dataclass(frozen=True)
class Tree:
    repository: str  # as recorded on what is loaded from it: a URL, or an absolute path
    commit: str
    files: list[GitFile]


def _git(*args, cwd=None, stdin=None):
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS, env=environment, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS} s.") from exc
    except OSError as exc:
        raise GitError(f"Cannot run git: {exc}") from exc
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        message = " ".join(line.removeprefix("fatal: ") for line in lines if line.strip())
        raise GitError(message or f"git {args[0]} failed (exit {result.returncode}).")
    return result.stdout


def repository_identity(repository):
    """How a repository is recorded: a local path as its absolute real path, a URL as given."""
    return os.path.realpath(repository) if os.path.isdir(repository) else repository


@contextmanager
def _repository_at(repository, ref):
    """(git directory, commit id) of `ref` in `repository`."""
    if os.path.isdir(repository):
        try:
            commit = _git("-C", repository, "rev-parse", "--verify", "--end-of-options",
                          f"{ref}^{{commit}}")
        except GitError as exc:
            if "not a git repository" in str(exc):
                raise GitError(f"{repository} is not a git repository.") from exc
            raise GitError(f"{ref} is not a branch, tag or commit of {repository}.") from exc
        yield repository, commit.decode().strip()
        return
    with tempfile.TemporaryDirectory(prefix="mlportal-git-") as directory:
        _git("init", "--quiet", "--bare", directory)
        _git("-C", directory, "fetch", "--quiet", "--depth", "1", "--no-tags",
             "--end-of-options", repository, ref)
        commit = _git("-C", directory, "rev-parse", "FETCH_HEAD^{commit}").decode().strip()
        yield directory, commit


def read_tree(repository, *, ref="HEAD", subdirectory="", suffixes=(), max_bytes=1_000_000):
    """The files under `subdirectory` at `ref` whose names end with one of `suffixes`.

    Hidden files and folders (a path part starting with '.') and symbolic links are
    left out. Files larger than `max_bytes` are listed without their data.
    """
    if not os.path.isdir(repository):
        validate_repository(repository)
    validate_ref(ref)
    validate_subdirectory(subdirectory)
    prefix = subdirectory.strip("/") + "/" if subdirectory.strip("/") else ""
    with _repository_at(repository, ref) as (git_dir, commit):
        listing = _git("-C", git_dir, "ls-tree", "-r", "-z", "-l", "--full-tree", commit)
        entries = []
        for line in listing.decode(errors="surrogateescape").split("\0"):
            if not line:
                continue
            info, path = line.split("\t", 1)
            mode, kind, sha, size = info.split()
            if kind != "blob" or mode == "120000" or not path.startswith(prefix):
                continue
            if not path.lower().endswith(tuple(suffixes)):
                continue
            if any(part.startswith(".") for part in path.split("/")):
                continue
            entries.append((path, sha, int(size)))
        wanted = [sha for _, sha, size in entries if size <= max_bytes]
        blobs = _read_blobs(git_dir, wanted) if wanted else {}
    files = [GitFile(path, size, blobs.get(sha) if size <= max_bytes else None)
             for path, sha, size in sorted(entries)]
    return Tree(repository=repository_identity(repository), commit=commit, files=files)


def _read_blobs(git_dir, shas):
    """Blob contents by id, read by one `git cat-file --batch`."""
    output = _git("-C", git_dir, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha in shas)
                  .encode())
    blobs, position = {}, 0
    while position < len(output):
        header_end = output.index(b"\n", position)
        sha, _, size = output[position:header_end].decode().split()
        start = header_end + 1
        blobs[sha] = output[start:start + int(size)]
        position = start + int(size) + 1
    return blobs
