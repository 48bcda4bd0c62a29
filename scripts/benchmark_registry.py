"""Registry benchmark: registration throughput and a 200 MB artifact upload, over HTTP.

Starts a real server process (gunicorn, gthread: 4 workers x 8 threads) on a free loopback
port, on the database DATABASE_URL names (default: a fresh SQLite file in a temporary
directory; DATABASE_CONN_MAX_AGE defaults to 60 s here, as in production), and measures:

1. registrations per second with 1, 8 and 32 concurrent clients (each client a thread with
   its own keep-alive connection, each registration a POST /api/v1/versions/ with one
   artifact link), and checks that each model got the numbers 1..N exactly;
2. the time of uploading a 200 MB artifact (multipart, streamed from disk by the client)
   and the server's peak memory meanwhile: a fresh single-worker server, whose resident
   memory (VmRSS) is read before the upload and whose peak (VmHWM) after it. Once with
   local artifact storage, once with S3 (moto's standalone server on loopback).

Every loop is bounded; all traffic stays on 127.0.0.1. On a DATABASE_URL of yours it leaves
its rows under the namespace /benchmark/run-<time> (versions are never deleted).

    .venv/bin/python scripts/benchmark_registry.py [--registrations 200] [--upload-mb 200]
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MB = 1024 * 1024


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port, process, token, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The server stopped at start (exit {process.returncode}).")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v1/versions/?page_size=1",
                               headers={"Authorization": f"Token {token}"})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The server did not answer within {seconds} s.")


class Server:
    """gunicorn on a free loopback port, stopped (by its own handle) on exit."""

    def __init__(self, env, token, *, workers, threads):
        self.port, self.token = free_port(), token
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "mlportal.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
             "--timeout", "600", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )

    def __enter__(self):
        wait_until_up(self.port, self.process, self.token)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def memory_mb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request(connection, method, path, token, body=None):
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def register_concurrently(port, token, namespace, model_name, clients, total):
    """`total` registrations of one model by `clients` threads; returns (seconds, latencies,
    errors)."""
    lock = threading.Lock()
    sent = {"count": 0}
    latencies, errors = [], []
    start = threading.Barrier(clients + 1)

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait()
        while True:
            with lock:
                if sent["count"] >= total:
                    break
                sent["count"] += 1
                index = sent["count"]
            document = {
                "namespace": namespace, "model_name": model_name,
                "description": f"benchmark registration {index}",
                "created_by": "arn:aws:iam::123456789012:role/benchmark",
                "artifacts": [{"name": "trained",
                               "uri": f"s3://benchmark/{model_name}/{index}.tar.gz"}],
            }
            began = time.perf_counter()
            try:
                status, body = request(connection, "POST", "/api/v1/versions/", token, document)
            except OSError as exc:
                status, body = 0, str(exc).encode()
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                latencies.append(time.perf_counter() - began)
                if status != 201:
                    errors.append(f"{status} {body[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    return time.perf_counter() - began, latencies, errors


def make_file(path, size):
    """`size` random bytes at `path`; returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(size // MB):
            chunk = os.urandom(MB)
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


def upload(port, token, version_id, name, path):
    """Stream `path` as a multipart upload; returns (seconds, status, response body)."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"model.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.path.getsize(path)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    connection.putrequest("POST", f"/api/v1/versions/{version_id}/artifacts/")
    connection.putheader("Authorization", f"Token {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as file:
        while chunk := file.read(MB):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    seconds = time.perf_counter() - began
    connection.close()
    return seconds, response.status, body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=200,
                        help="registrations per concurrency level (default 200)")
    parser.add_argument("--upload-mb", type=int, default=200, help="artifact size (MB)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mlportal-benchmark-"))
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'db.sqlite3'}",
        "MEDIA_ROOT": str(workdir / "media"),
        "ARTIFACT_STORAGE": "local",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # Persistent database connections, as a production server would keep them.
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
        "DJANGO_DEBUG": "",
        "DJANGO_LOG_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore::UserWarning",  # no collected static files: not needed here
        "TMPDIR": str(workdir),
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connections

    from catalog.services import save_catalog_model
    from mlportal.models import Token
    from mlportal.services import save_new_token
    from registry.models import ModelVersion

    user, _ = get_user_model().objects.get_or_create(username="benchmark")
    user.is_superuser = user.is_staff = True
    user.save()
    token = save_new_token(Token(user=user, description="benchmark_registry"))
    namespace = f"/benchmark/run-{int(time.time())}"
    levels = (1, 8, 32)
    for clients in levels:
        save_catalog_model(namespace=namespace, model_name=f"clients{clients}")
    save_catalog_model(namespace=namespace, model_name="upload")
    vendor = connections["default"].vendor
    connections.close_all()

    print(f"Registry benchmark: gunicorn (gthread, 4 workers x 8 threads) on 127.0.0.1, "
          f"{vendor} database (connections kept {env['DATABASE_CONN_MAX_AGE']} s), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"\nRegistration throughput ({args.registrations} registrations per level, "
          "POST /api/v1/versions/ with one artifact link):")
    print(f"{'clients':>8} {'reg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}  numbers")
    with Server(env, token, workers=4, threads=8) as server:
        for clients in levels:
            model_name = f"clients{clients}"
            seconds, latencies, errors = register_concurrently(
                server.port, token, namespace, model_name, clients, args.registrations)
            numbers = sorted(ModelVersion.objects.filter(
                catalog_model__namespace__path=namespace, catalog_model__model_name=model_name,
            ).values_list("model_version", flat=True))
            exact = numbers == list(range(1, args.registrations + 1))
            latencies.sort()
            print(f"{clients:>8} {len(latencies) / seconds:>8.1f} "
                  f"{statistics.median(latencies) * 1000:>8.1f} "
                  f"{latencies[int(len(latencies) * 0.95) - 1] * 1000:>8.1f} {len(errors):>7}  "
                  f"{'1..' + str(len(numbers)) + ' exactly' if exact else 'NOT 1..N'}")
            for error in errors[:3]:
                print(f"         {error}")
        connections.close_all()

    print(f"\nUpload of a {args.upload_mb} MB artifact (single gunicorn worker, multipart "
          "streamed from disk by the client):")
    path = workdir / "artifact.bin"
    digest = make_file(path, args.upload_mb * MB)
    storages = [("local", {})]
    moto = start_moto()
    if moto is not None:
        storages.append(("s3 (moto)", moto[1]))
    try:
        for label, storage_env in storages:
            with Server({**env, **storage_env}, token, workers=1, threads=1) as server:
                version_id = register_one(server.port, token, namespace)
                small = workdir / "small.bin"
                make_file(small, MB)
                upload(server.port, token, version_id, "warmup", small)  # imports, first use
                (worker,) = server.worker_pids()
                before = memory_mb(worker, "VmRSS")
                seconds, status, body = upload(server.port, token, version_id, "trained", path)
                peak = memory_mb(worker, "VmHWM")
                result = json.loads(body) if status == 201 else {}
                check = "sha256 matches" if result.get("sha256") == digest else f"HTTP {status}"
                print(f"  {label:<10} {seconds:6.1f} s  {args.upload_mb / seconds:6.1f} MB/s  "
                      f"server worker RSS {before:.0f} MB before, peak {peak:.0f} MB "
                      f"(+{peak - before:.0f} MB)  {check}")
    finally:
        if moto is not None:
            moto[0].terminate()
            moto[0].wait(timeout=30)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def register_one(port, token, namespace):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, body = request(connection, "POST", "/api/v1/versions/", token,
                           {"namespace": namespace, "model_name": "upload"})
    connection.close()
    if status != 201:
        raise SystemExit(f"Could not register a version to upload to: {status} {body[:300]!r}")
    return json.loads(body)["id"]


def start_moto():
    """moto's standalone S3 server on loopback with a bucket; None if moto is not installed."""
    try:
        import boto3
        import moto  # noqa: F401
    except ImportError:
        return None
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
                   "AWS_S3_REGION_NAME": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="benchmark", aws_secret_access_key="benchmark")
    for _ in range(100):
        try:
            client.create_bucket(Bucket="benchmark")
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
    return process, {"ARTIFACT_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "benchmark",
                     "AWS_S3_ENDPOINT_URL": endpoint, **credentials}


if __name__ == "__main__":
    main()
