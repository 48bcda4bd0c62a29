"""How long a Git sync takes: a repository of CARDS model cards, loaded the first time,
synced again with nothing changed, and after one card changed.

Runs on a fresh SQLite database in a temporary folder (or on BENCHMARK_DATABASE_URL, an
empty database). Prints figures; `make benchmark` runs it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CARDS = int(os.environ.get("BENCHMARK_CARDS", "500"))
ROOT = Path(__file__).resolve().parent.parent
WORKDIR = Path(tempfile.mkdtemp(prefix="mlportal-benchmark-sync-"))

sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "mlportal.settings"
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCHMARK_DATABASE_URL", f"sqlite:///{WORKDIR / 'benchmark.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from catalog.cards import DOCUMENT_SUFFIXES  # noqa: E402
from catalog.git import read_tree  # noqa: E402
from catalog.sync import sync_catalog  # noqa: E402

MARKDOWN_CARD = """---
namespace: /team{team}/models
model_name: model{index}
owner: owner{team}@example.com
description: Model number {index}.
data_sources:
  - name: warehouse{source}
inference:
  input:
    description: A request
    schema: {{type: object, required: [id], properties: {{id: {{type: string}}}}}}
---
# Model {index}

Trained on warehouse{source}. **Limits**: none known.
"""

YAML_CARD = """namespace: /team{team}/models
model_name: model{index}
owner: owner{team}@example.com
url: https://git.example.com/team{team}/model{index}
data_sources:
  - name: warehouse{source}
"""


def git(*args):
    subprocess.run(["git", "-c", "user.name=Benchmark", "-c", "user.email=b@example.com",
                    *args], cwd=WORKDIR / "cards", check=True, capture_output=True)


def write_card(index, template):
    path = WORKDIR / "cards" / "catalog" / f"model{index}.{'md' if index % 2 else 'yaml'}"
    path.write_text(template.format(index=index, team=index % 20, source=index % 10))


def timed(label, function):
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds * 1000:9.0f} ms  {len(queries):6d} queries")
    return result


def main():
    (WORKDIR / "cards" / "catalog").mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main")
    for index in range(CARDS):
        write_card(index, MARKDOWN_CARD if index % 2 else YAML_CARD)
    git("add", "--all")
    git("commit", "--quiet", "-m", "cards")
    call_command("migrate", verbosity=0)
    repository = str(WORKDIR / "cards")

    print(f"sync_catalog, {CARDS} cards (half Markdown, half YAML), "
          f"{connection.vendor}:")
    tree = timed("read the cards from git (ls-tree, cat-file)",
                 lambda: read_tree(repository, suffixes=DOCUMENT_SUFFIXES))
    assert len(tree.files) == CARDS
    first = timed("first sync (creates every model)", lambda: sync_catalog(repository=repository))
    assert first.counts()["created"] == CARDS, first.failed[:3]
    again = timed("sync again, nothing changed", lambda: sync_catalog(repository=repository))
    assert again.counts()["unchanged"] == CARDS
    write_card(7, MARKDOWN_CARD.replace("none known", "drifts in winter"))
    git("commit", "--quiet", "-am", "one card changed")
    one = timed("sync after one card changed", lambda: sync_catalog(repository=repository))
    assert one.counts()["updated"] == 1
    dry = timed("dry run after one card changed",
                lambda: sync_catalog(repository=repository, dry_run=True))
    assert dry.counts()["unchanged"] == CARDS


if __name__ == "__main__":
    try:
        main()
    finally:
        connection.close()
        shutil.rmtree(WORKDIR, ignore_errors=True)
