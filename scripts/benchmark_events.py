"""What events and webhooks cost: the time an event adds to a change (written in its
transaction), and how fast real `manage.py db_worker` processes deliver events to a local
HTTP receiver (dispatch, signing, POST, delivery log).

Runs against a throwaway test database (a SQLite file, or `test_<name>` on the server
DATABASE_URL names) and prints figures:

    .venv/bin/python scripts/benchmark_events.py [events] [workers]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 2


class Receiver:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def database_url():
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{db['NAME']}")


def main():
    warnings.filterwarnings("ignore", message="No directory at")
    setup_test_environment()
    directory = tempfile.mkdtemp(prefix="mlportal-bench-")
    if connection.settings_dict["ENGINE"].endswith("sqlite3"):
        connection.settings_dict["TEST"]["NAME"] = str(Path(directory) / "bench.sqlite3")
    settings.MLPORTAL_WEBHOOKS = {**settings.MLPORTAL_WEBHOOKS, "ALLOW_HTTP": True,
                                  "ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run():
    from catalog.services import save_catalog_model
    from mlportal import events
    from mlportal.models import Event, WebhookDelivery
    from mlportal.services import save_subscription

    print(f"database: {connection.vendor}; {EVENTS} events; {WORKERS} worker(s)")
    model = save_catalog_model(namespace="/bench", model_name="m", owner="a@example.com")

    def timed_change(emit):
        start = time.perf_counter()
        with transaction.atomic():
            model.description = f"changed at {start}"
            model.save()
            if emit:
                events.emit(events.CATALOG_MODEL_CHANGED, model)
        return (time.perf_counter() - start) * 1000

    plain = statistics.median(timed_change(False) for _ in range(50))
    with_event = statistics.median(timed_change(True) for _ in range(50))
    print(f"a change without its event: {plain:.2f} ms median")
    print(f"the same change with its event (document + outbox row): {with_event:.2f} ms median"
          f" (+{with_event - plain:.2f} ms)")
    Event.objects.all().delete()

    receiver = Receiver()
    save_subscription(namespace="", url=receiver.url)
    for index in range(EVENTS):
        save_catalog_model(namespace="/bench", model_name=f"m{index}", owner="a@example.com")
    assert Event.objects.count() == EVENTS

    environment = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_LOG_LEVEL": "WARNING",
                   "MLPORTAL_WEBHOOKS_ALLOW_HTTP": "1",
                   "MLPORTAL_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.1/32"}
    start = time.perf_counter()
    workers = [subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.05", "--no-startup-delay",
         "--no-reload", "--verbosity", "0", "--worker-id", f"bench-{number}"],
        cwd=ROOT, env=environment) for number in range(WORKERS)]
    try:
        while receiver.count < EVENTS:
            time.sleep(0.05)
            if time.perf_counter() - start > 600:
                raise SystemExit(f"Only {receiver.count} of {EVENTS} delivered in 600 s.")
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 30
        while (WebhookDelivery.objects.filter(status="succeeded").count() < EVENTS
               and time.monotonic() < deadline):
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
    succeeded = WebhookDelivery.objects.filter(status="succeeded").count()
    print(f"{EVENTS} events dispatched and delivered by {WORKERS} worker(s) in {elapsed:.1f} s "
          f"(worker start included): {EVENTS / elapsed:.1f} events/s; "
          f"{succeeded} deliveries logged as succeeded")


if __name__ == "__main__":
    main()
