"""The portal against MLflow's tracking server, side by side on one machine.

Installs a pinned MLflow server into its own virtual environment (never a project
dependency: ~/.cache/mlportal-bench/mlflow-<version>), creates two databases on the local
PostgreSQL (one each, dropped and created anew on every run), starts both servers on free
loopback ports with 2 worker processes each (MLflow: `mlflow server --workers 2`; the
portal: gunicorn with `gunicorn.conf.py`, the configuration `make serve` uses), seeds the
same data in both (a model with 400 versions, each with an artifact and tags, an alias,
and 50 more models), then runs the same workloads against both at 1 and 8 clients and
prints one table: req/s, p50 and p95 latency, errors, the server processes' CPU time per
request (read from /proc: a figure the machine's other load disturbs less than the rates),
and the portal/MLflow ratios. Each row alternates the two servers in rounds (--rounds), so
that load from elsewhere on the machine falls on both alike.

Each client is a thread with its own keep-alive connection (http.client); every run is
bounded by a number of requests and a number of seconds. The portal runs alone on the
workloads MLflow has no counterpart for (its floor: an authenticated request that does no
work, the search page and the model page). "MLflow client calls" sends MLflow's REST calls
to both servers; it is skipped, with the reason, while the portal answers 404 there.

    .venv/bin/python scripts/benchmark_mlflow.py [--requests 400] [--seconds 8]
        [--clients 1,8] [--versions 400] [--rounds 3] [--mlflow-version 3.17.2]
        [--pg postgres://postgres@127.0.0.1:5432] [--only WORKLOAD ...]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("MLPORTAL_BENCH_CACHE", Path.home() / ".cache" / "mlportal-bench"))
NAMESPACE, MODEL = "/bench", "bench_model"
MLFLOW_MODEL = "bench_model"
# The same model through the portal's MLflow-compatible API: namespace.dotted.model_name.
PORTAL_MLFLOW_NAME = NAMESPACE[1:].replace("/", ".") + "." + MODEL
EXTRA_MODELS = 50  # for "register, many models"


# --- processes -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command, **kwargs):
    subprocess.run(command, check=True, **kwargs)


def mlflow_environment(version):
    """The virtual environment with mlflow==version (and psycopg2), created on first use."""
    venv = CACHE / f"mlflow-{version}"
    mlflow = venv / "bin" / "mlflow"
    marker = venv / ".installed"
    if not marker.exists():
        print(f"Installing mlflow=={version} into {venv} (once) ...", flush=True)
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             f"mlflow=={version}", "psycopg2-binary"])
        marker.touch()
    return mlflow


def recreate_database(server, name):
    """Drop and create `name` on the PostgreSQL server at `server` (never `postgres`)."""
    if name in {"postgres", "test_postgres", "template0", "template1"}:
        raise SystemExit(f"Refusing to use the database {name}.")
    import psycopg2

    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def database_size(server, name):
    import psycopg2

    connection = psycopg2.connect(f"{server}/{name}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    connection.close()
    return size


TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """User + system CPU time of `pid` and all its descendants (from /proc)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class Process:
    """A server process on a loopback port, stopped (by its own handle) on exit."""

    def __init__(self, name, command, env, port, probe, log):
        self.name, self.port, self.probe = name, port, probe
        self.log = open(log, "w")  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self):
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} stopped at start (exit {self.process.returncode})"
                                 f"; see {self.log.name}.")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", self.probe)
                if connection.getresponse().status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit(f"{self.name} did not answer within 180 s; see {self.log.name}.")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --- HTTP ----------------------------------------------------------------------------------

class Client:
    """One keep-alive connection with fixed headers."""

    def __init__(self, port, headers):
        self.port, self.headers = port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None):
        payload = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed the kept-alive connection: open another once.
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def load(make_client, make_request, *, clients, requests, seconds, first=0, ok=(200, 201)):
    """`requests` calls (at most `seconds`) by `clients` threads, numbered from `first`;
    returns the raw figures (latencies, errors, elapsed)."""
    lock = threading.Lock()
    counter = {"sent": 0}
    latencies, errors = [], []
    barrier = threading.Barrier(clients + 1)
    deadline = {"at": None}

    def worker():
        client = make_client()
        barrier.wait()
        while True:
            with lock:
                if counter["sent"] >= requests or time.monotonic() > deadline["at"]:
                    return
                number = first + counter["sent"]
                counter["sent"] += 1
            method, path, body = make_request(number)
            started = time.perf_counter()
            try:
                status, content = client.call(method, path, body)
            except Exception as exc:  # noqa: BLE001 (counted, reported)
                status, content = None, repr(exc).encode()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status not in ok:
                    errors.append((status, content[:200]))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadline["at"] = time.monotonic() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - started}


def summary(runs, cpu):
    latencies = sorted(latency for run in runs for latency in run["latencies"])
    errors = [error for run in runs for error in run["errors"]]
    elapsed = sum(run["elapsed"] for run in runs)
    return {
        "count": len(latencies),
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "p50": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p95": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies else float("nan"),
        "cpu": 1000 * cpu / len(latencies) if latencies else float("nan"),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def side_by_side(sides, *, clients, requests, seconds, rounds):
    """Run each side's load in turn, `rounds` times (so that the machine's other load falls
    on both alike); returns each side's summary, with the server's CPU per request."""
    raw = {name: [] for name in sides}
    cpu = dict.fromkeys(sides, 0.0)
    for round_number in range(rounds):
        for name, (make_client, make_request, pid) in sides.items():
            before = tree_cpu_seconds(pid)
            raw[name].append(load(make_client, make_request, clients=clients,
                                  requests=max(1, requests // rounds),
                                  seconds=seconds / rounds,
                                  first=round_number * (requests // rounds)))
            cpu[name] += tree_cpu_seconds(pid) - before
    return {name: summary(raw[name], cpu[name]) for name in sides}


# --- the two servers -----------------------------------------------------------------------

def q(**params):
    return urllib.parse.urlencode(params)


class Portal:
    label = "portal"

    def __init__(self, server, database, workers, log_dir):
        self.database_url = f"{server}/{database}"
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": self.database_url,
                    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "WEB_CONCURRENCY": str(workers), "DJANGO_DEBUG": "0",
                    "GUNICORN_ACCESS_LOG": os.environ.get("BENCH_PORTAL_ACCESS_LOG", "-"),
                    "MLPORTAL_METRICS": os.environ.get("MLPORTAL_METRICS", "1")}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.log = log_dir / "portal.log"

    def prepare(self):
        manage = [str(BIN / "python"), "manage.py"]
        run([*manage, "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=self.env)
        run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT, env=self.env)
        script = (
            "from django.contrib.auth import get_user_model\n"
            "from mlportal.models import Token\n"
            "from mlportal.services import save_new_token\n"
            "User = get_user_model()\n"
            "user = User.objects.create_superuser('bench', 'bench@example.com', 'bench-pass-1')\n"
            "print(save_new_token(Token(user=user, description='benchmark')))\n"
        )
        output = subprocess.run([*manage, "shell", "-c", script], cwd=ROOT, env=self.env,
                                check=True, capture_output=True, text=True).stdout
        self.token = output.strip().splitlines()[-1]
        self.headers = {"Authorization": f"Token {self.token}"}

    def process(self):
        return Process("the portal", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                                      "mlportal.wsgi", "--bind", f"127.0.0.1:{self.port}"],
                       self.env, self.port, "/healthz", self.log)

    def client(self):
        return Client(self.port, self.headers)

    def session_client(self):
        """A signed-in browser session (for the pages)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", "/accounts/login/")
        response = connection.getresponse()
        response.read()
        cookies = {}
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        form = q(username="bench", password="bench-pass-1",
                 csrfmiddlewaretoken=cookies["csrftoken"])
        connection.request("POST", "/accounts/login/", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken']}",
            "Referer": f"http://127.0.0.1:{self.port}/accounts/login/"})
        response = connection.getresponse()
        response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        if "sessionid" not in cookies:
            raise SystemExit(f"Signing in to the portal failed ({response.status}).")
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        self._cookie = cookie
        return cookie

    def seed(self, versions):
        client = self.client()
        models = [MODEL] + [f"model_{n:03d}" for n in range(EXTRA_MODELS)]
        for name in models:
            status, content = client.call("POST", "/api/v1/models/", {
                "namespace": NAMESPACE, "model_name": name, "description": "benchmark",
                "owner": "bench@example.com"})
            assert status == 201, content
        self.ids = {}
        for number in range(1, versions + 1):
            status, content = client.call("POST", "/api/v1/versions/", self.version(number))
            assert status == 201, content
            self.ids[number] = json.loads(content)["id"]
        status, content = client.call("POST", "/api/v1/aliases/", {
            "namespace": NAMESPACE, "model_name": MODEL, "alias": "champion",
            "model_version": versions // 2})
        assert status == 201, content

    @staticmethod
    def version(number, model=MODEL):
        return {"namespace": NAMESPACE, "model_name": model,
                "description": f"version {number}", "created_by": "arn:aws:iam::1:role/train",
                "artifacts": [{"name": "model", "uri": f"s3://bench/{model}/{number}.tar.gz"}],
                "tags": {"framework": "sklearn", "batch": str(number % 10)}}

    # The workloads: (method, path, body) for request number n.
    def get_by_id(self, n):
        return "GET", f"/api/v1/versions/{self.ids[n % len(self.ids) + 1]}/", None

    def get_by_key(self, n):
        return "GET", "/api/v1/versions/?" + q(namespace=NAMESPACE, model_name=MODEL,
                                                model_version=n % len(self.ids) + 1), None

    def alias(self, n):
        return "GET", "/api/v1/versions/?" + q(namespace=NAMESPACE, model_name=MODEL,
                                                alias="champion"), None

    def list100(self, n):
        return "GET", "/api/v1/versions/?" + q(namespace=NAMESPACE, model_name=MODEL,
                                                page_size=100, page=n % 4 + 1), None

    def search_tag(self, n):
        return "GET", "/api/v1/versions/?" + q(namespace=NAMESPACE, model_name=MODEL,
                                                tag=f"batch={n % 10}", page_size=100), None

    def register_one(self, n):
        return "POST", "/api/v1/versions/", self.version(n)

    def register_many(self, n):
        return "POST", "/api/v1/versions/", self.version(n, f"model_{n % EXTRA_MODELS:03d}")

    def floor(self, n):
        return "GET", "/api/v1/auth/whoami/", None

    def search_page(self, n):
        return "GET", "/search/?" + q(q=["sklearn", "version", "bench"][n % 3]), None

    def model_page(self, n):
        return "GET", f"/models{NAMESPACE}/{MODEL}/", None


class MLflow:
    label = "MLflow"

    def __init__(self, server, database, workers, version, log_dir):
        self.mlflow = mlflow_environment(version)
        self.version_name = version
        self.port = free_port()
        self.artifacts = log_dir / "mlflow-artifacts"
        self.command = [
            str(self.mlflow), "server", "--backend-store-uri", f"{server}/{database}"
            .replace("postgres://", "postgresql+psycopg2://"),
            "--artifacts-destination", str(self.artifacts),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
        ]
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("DJANGO_", "DATABASE_", "VIRTUAL_ENV"))}
        self.log = log_dir / "mlflow.log"
        self.headers = {}

    def process(self):
        return Process(f"MLflow {self.version_name}", self.command, self.env, self.port,
                       "/health", self.log)

    def client(self):
        return Client(self.port, self.headers)

    def seed(self, versions):
        client = self.client()
        for name in [MLFLOW_MODEL] + [f"model_{n:03d}" for n in range(EXTRA_MODELS)]:
            status, content = client.call(
                "POST", "/api/2.0/mlflow/registered-models/create", {"name": name})
            assert status == 200, content
        for number in range(1, versions + 1):
            status, content = client.call("POST", "/api/2.0/mlflow/model-versions/create",
                                          self.version(number))
            assert status == 200, content
        status, content = client.call("POST", "/api/2.0/mlflow/registered-models/alias", {
            "name": MLFLOW_MODEL, "alias": "champion", "version": str(versions // 2)})
        assert status == 200, content
        self.count = versions

    @staticmethod
    def version(number, model=MLFLOW_MODEL):
        return {"name": model, "source": f"s3://bench/{model}/{number}.tar.gz",
                "description": f"version {number}", "run_id": "",
                "tags": [{"key": "framework", "value": "sklearn"},
                         {"key": "batch", "value": str(number % 10)}]}

    def get(self, n):
        return "GET", "/api/2.0/mlflow/model-versions/get?" + q(
            name=MLFLOW_MODEL, version=n % self.count + 1), None

    get_by_id = get_by_key = get

    def alias(self, n):
        return "GET", "/api/2.0/mlflow/registered-models/alias?" + q(
            name=MLFLOW_MODEL, alias="champion"), None

    def list100(self, n):
        return "GET", "/api/2.0/mlflow/model-versions/search?" + q(
            filter=f"name='{MLFLOW_MODEL}'", max_results=100), None

    def search_tag(self, n):
        return "GET", "/api/2.0/mlflow/model-versions/search?" + q(
            filter=f"name='{MLFLOW_MODEL}' and tags.batch='{n % 10}'", max_results=100), None

    def register_one(self, n):
        return "POST", "/api/2.0/mlflow/model-versions/create", self.version(n)

    def register_many(self, n):
        return "POST", "/api/2.0/mlflow/model-versions/create", self.version(
            n, f"model_{n % EXTRA_MODELS:03d}")

    def floor(self, n):
        return "GET", "/health", None


def mlflow_calls(model):
    """MLflow's own REST calls, as an MLflow client sends them, for either server."""
    calls = [
        lambda n: ("GET", "/api/2.0/mlflow/model-versions/get?" + q(
            name=model, version=n % 100 + 1), None),
        lambda n: ("GET", "/api/2.0/mlflow/registered-models/alias?"
                   + q(name=model, alias="champion"), None),
        lambda n: ("GET", "/api/2.0/mlflow/model-versions/search?" + q(
            filter=f"name='{model}'", max_results=100), None),
        lambda n: ("GET", "/api/2.0/mlflow/registered-models/get?" + q(name=model), None),
    ]
    return lambda n: calls[n % len(calls)](n)


def python_client_side_by_side(portal, mlflow, *, clients, requests, seconds, rounds):
    """MLflow's own Python client (scripts/mlflow_client_calls.py, run by the MLflow
    environment's Python) making the same calls to each server, in alternating rounds."""
    python = mlflow.mlflow.parent / "python"
    sides = {
        "portal": (portal.port, PORTAL_MLFLOW_NAME, {"MLFLOW_TRACKING_TOKEN": portal.token},
                   portal.pid),
        "mlflow": (mlflow.port, MLFLOW_MODEL, {}, mlflow.pid),
    }
    raw = {name: [] for name in sides}
    cpu = dict.fromkeys(sides, 0.0)
    for round_number in range(rounds):
        for name, (port, model, env, pid) in sides.items():
            before = tree_cpu_seconds(pid)
            output = subprocess.run(
                [str(python), str(ROOT / "scripts" / "mlflow_client_calls.py"),
                 "--uri", f"http://127.0.0.1:{port}", "--name", model,
                 "--versions", str(mlflow.count), "--calls", str(max(1, requests // rounds)),
                 "--clients", str(clients), "--seconds", str(seconds / rounds),
                 "--first", str(round_number * (requests // rounds))],
                env={**mlflow.env, **env}, capture_output=True, text=True, check=True)
            cpu[name] += tree_cpu_seconds(pid) - before
            run = json.loads(output.stdout.strip().splitlines()[-1])
            run["errors"] = [(None, error.encode()) for error in run["errors"]]
            raw[name].append(run)
    return {name: summary(raw[name], cpu[name]) for name in sides}


# --- the run -------------------------------------------------------------------------------

WORKLOADS = [
    # (key, label, portal method, MLflow method or None, writes?)
    ("floor", "floor: authenticated no-op (MLflow: /health)", "floor", "floor"),
    ("get_id", "GET a version by id", "get_by_id", "get_by_id"),
    ("get_key", "GET a version by natural key", "get_by_key", "get_by_key"),
    ("alias", "resolve an alias", "alias", "alias"),
    ("list", "list 100 versions of a model", "list100", "list100"),
    ("search", "search versions by tag", "search_tag", "search_tag"),
    ("register_one", "register, one model", "register_one", "register_one"),
    ("register_many", "register, many models", "register_many", "register_many"),
    ("search_page", "search page (portal only)", "search_page", None),
    ("model_page", "model page, 400 versions (portal only)", "model_page", None),
    ("mlflow_api", "MLflow client calls", None, None),
    ("mlflow_client", "MLflow's Python client (MlflowClient)", None, None),
]


def fmt(figures):
    if figures is None:
        return ["-", "-", "-", "-", "-"]
    return [f"{figures['rate']:.0f}", f"{figures['p50']:.1f}", f"{figures['p95']:.1f}",
            str(figures["errors"]), f"{figures['cpu']:.1f}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per workload and level")
    parser.add_argument("--seconds", type=float, default=8, help="per workload and level")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--versions", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternations of the two servers per row")
    parser.add_argument("--mlflow-version", default="3.17.2")
    parser.add_argument("--pg", default=os.environ.get(
        "BENCH_PG", "postgres://postgres@127.0.0.1:5432"), help="PostgreSQL server URL")
    parser.add_argument("--portal-db", default="mlportal_bench_portal")
    parser.add_argument("--mlflow-db", default="mlportal_bench_mlflow")
    parser.add_argument("--only", nargs="*", help="workload keys: " + ", ".join(
        key for key, *_ in WORKLOADS))
    args = parser.parse_args()
    levels = [int(level) for level in args.clients.split(",")]
    log_dir = CACHE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    mlflow = MLflow(args.pg, args.mlflow_db, args.workers, args.mlflow_version, log_dir)
    portal = Portal(args.pg, args.portal_db, args.workers, log_dir)
    recreate_database(args.pg, args.portal_db)
    recreate_database(args.pg, args.mlflow_db)
    portal.prepare()
    print(f"Portal (gunicorn -c gunicorn.conf.py, {args.workers} workers) and MLflow "
          f"{args.mlflow_version} (mlflow server --workers {args.workers}) on PostgreSQL "
          f"({args.portal_db}, {args.mlflow_db}); {os.cpu_count()} CPUs; logs in {log_dir}.",
          flush=True)
    with portal.process() as portal_process, mlflow.process() as mlflow_process:
        portal.pid, mlflow.pid = portal_process.process.pid, mlflow_process.process.pid
        started = time.monotonic()
        portal.seed(args.versions)
        mlflow.seed(args.versions)
        print(f"Seeded {args.versions} versions (+ {EXTRA_MODELS} models) in each "
              f"in {time.monotonic() - started:.0f} s.", flush=True)
        cookie = portal.session_client()
        rows, notes = [], []
        for key, label, portal_method, mlflow_method in WORKLOADS:
            if args.only and key not in args.only:
                continue
            for clients in levels:
                common = {"clients": clients, "requests": args.requests,
                          "seconds": args.seconds, "rounds": args.rounds}
                if key == "mlflow_client":
                    figures = python_client_side_by_side(portal, mlflow, **common)
                elif key == "mlflow_api":
                    probe = portal.client().call(
                        "GET", "/api/2.0/mlflow/registered-models/get?" + q(
                            name=PORTAL_MLFLOW_NAME))
                    if probe[0] == 404 and b"RESOURCE_DOES_NOT_EXIST" not in probe[1]:
                        if clients == levels[0]:
                            notes.append("MLflow client calls: skipped, the portal answers "
                                         "404 at /api/2.0/mlflow/ (no MLflow-compatible API "
                                         "on this branch).")
                        continue
                    figures = side_by_side({
                        "portal": (portal.client, mlflow_calls(PORTAL_MLFLOW_NAME), portal.pid),
                        "mlflow": (mlflow.client, mlflow_calls(MLFLOW_MODEL), mlflow.pid),
                    }, **common)
                elif mlflow_method is None:
                    figures = side_by_side({"portal": (
                        lambda: Client(portal.port, {"Cookie": cookie}),
                        getattr(portal, portal_method), portal.pid)}, **common)
                else:
                    figures = side_by_side({
                        "portal": (portal.client, getattr(portal, portal_method), portal.pid),
                        "mlflow": (mlflow.client, getattr(mlflow, mlflow_method), mlflow.pid),
                    }, **common)
                ours, theirs = figures["portal"], figures.get("mlflow")
                ratio = (f"{ours['rate'] / theirs['rate']:.2f}x"
                         if theirs and theirs["rate"] else "-")
                cpu_ratio = (f"{theirs['cpu'] / ours['cpu']:.2f}x"
                             if theirs and ours["cpu"] else "-")
                rows.append([label, str(clients), *fmt(ours), *fmt(theirs), ratio, cpu_ratio])
                for who, figures in (("portal", ours), ("MLflow", theirs)):
                    if figures and figures["first_error"]:
                        notes.append(f"{label} x{clients}, {who}: first error "
                                     f"{figures['first_error']}")
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
        portal_size = database_size(args.pg, args.portal_db)
        mlflow_size = database_size(args.pg, args.mlflow_db)

    header = ["workload", "clients", "portal req/s", "p50 ms", "p95 ms", "errors", "cpu ms",
              "MLflow req/s", "p50 ms", "p95 ms", "errors", "cpu ms", "portal/MLflow",
              "cpu MLflow/portal"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print()
    print(f"Portal vs MLflow {args.mlflow_version}, {args.versions} versions, "
          f"{args.workers} workers each, up to {args.requests} requests or "
          f"{args.seconds:g} s per row in {args.rounds} alternating rounds (req/s higher is "
          "better; latencies in ms; cpu ms: the server processes' CPU time per request, "
          "database excluded)")
    for i, row in enumerate([header, ["-" * w for w in widths], *rows]):
        print("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w)
                        for j, (cell, w) in enumerate(zip(row, widths, strict=True))))
        del i
    print(f"\nDatabase size: portal {portal_size}, MLflow {mlflow_size}.")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
