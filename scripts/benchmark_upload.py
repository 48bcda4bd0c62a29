"""Artifact upload benchmark: the portal's API against boto3 uploading the same file to S3.

Starts moto's standalone S3 server (a process of its own) and the portal under gunicorn with
gunicorn.conf.py (what `make serve` runs; one worker, so that its memory is the upload's), on
free loopback ports and a fresh SQLite database (or DATABASE_URL), writes one random file,
then uploads it

1. with boto3 directly (upload_file, the default TransferConfig; then the portal's own part
   size and concurrency, settings.ARTIFACT_TRANSFER_CONFIG);
2. through the portal: POST /api/v1/versions/{id}/artifacts/, multipart (`name` then
   `file`), the body streamed from disk by http.client, never held in memory;

and prints one table: MB/s of each, the portal's share of the faster boto3 run, the
worker's memory growth (its peak resident memory, VmHWM reset before the upload, minus its
resident memory before), and whether the targets hold (>= 80% of boto3, < 100 MB). Every
stored object's size and sha256 are checked against the file's.

    .venv/bin/python scripts/benchmark_upload.py               # 256 MiB (make benchmark)
    .venv/bin/python scripts/benchmark_upload.py --size 1GiB   # the figure in docs/operators.md

Exits non-zero when a stored object does not match the file (not when a target is missed:
the figures depend on the machine).
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
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
BUCKET = "benchmark"
CREDENTIALS = {"aws_access_key_id": "benchmark", "aws_secret_access_key": "benchmark",
               "region_name": "us-east-1"}
UNITS = {"": MB, "m": MB, "mb": MB, "mib": MB,
         "g": 1024 * MB, "gb": 1024 * MB, "gib": 1024 * MB}

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_mlflow import Process  # noqa: E402
from benchmark_registry import free_port, make_file, memory_mb, upload  # noqa: E402


def size_argument(text):
    """256MiB, 1GiB, 1g -> bytes (binary units: MB is MiB here), a whole number of MiB."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match[2].lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256MiB, 1GiB)")
    size = int(match[1]) * UNITS[match[2].lower()]
    if not size or size % MB:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of MiB")
    return size


def worker_pid(server):
    (pid,) = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children"
                  ).read_text().split()
    return int(pid)


def stored_digest(client, key):
    """(size, sha256) of the stored object, read back from S3."""
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MB):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def timed_boto3_upload(client, path, key, config):
    began = time.perf_counter()
    client.upload_file(str(path), BUCKET, key, Config=config)
    return time.perf_counter() - began


class PeakMemory:
    """The peak resident memory of a process over a span: its high-water mark is reset at
    the start (clear_refs, our own process) and read at the end; where the kernel refuses
    the reset, VmRSS is sampled every 50 ms instead."""

    def __init__(self, pid):
        self.pid, self.samples, self.running = pid, [], True
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.sampler = None
        except OSError:
            self.sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while self.running:
            self.samples.append(memory_mb(self.pid, "VmRSS"))
            time.sleep(0.05)

    def __enter__(self):
        self.before = memory_mb(self.pid, "VmRSS")
        if self.sampler:
            self.sampler.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        if self.sampler:
            self.sampler.join()
            self.peak = max([self.before, *self.samples])
        else:
            self.peak = memory_mb(self.pid, "VmHWM")
        self.growth = self.peak - self.before


def prepare_portal(env):
    """Migrate, a superuser's token, a version to upload to; returns (token, version id)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from catalog.services import save_catalog_model\n"
        "from mlportal.models import Token\n"
        "from mlportal.services import save_new_token\n"
        "from registry.services import register_version\n"
        "user, _ = get_user_model().objects.get_or_create(username='benchmark-upload')\n"
        "user.is_superuser = user.is_staff = True\n"
        "user.save()\n"
        f"namespace = '/benchmark/upload-{int(time.time())}'\n"
        "save_catalog_model(namespace=namespace, model_name='upload')\n"
        "version = register_version(namespace=namespace, model_name='upload', user=user)\n"
        "print(save_new_token(Token(user=user, description='benchmark_upload')), version.pk)\n"
    )
    output = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT,
                            env=env, check=True, capture_output=True, text=True).stdout
    token, version_id = output.strip().splitlines()[-1].split()
    return token, int(version_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=size_argument, default=256 * MB,
                        help="the file's size, e.g. 256MiB (default) or 1GiB")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working folder (file, logs, database)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mlportal-benchmark-upload-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(lambda: print(f"  kept {workdir}") if args.keep else
                         shutil.rmtree(workdir, ignore_errors=True))
        moto_port, port = free_port(), free_port()
        endpoint = f"http://127.0.0.1:{moto_port}"
        cleanup.enter_context(Process(
            "moto_server", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            os.environ, moto_port, "/", workdir / "moto.log"))
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
        client.create_bucket(Bucket=BUCKET)
        env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL")
            or f"sqlite:///{workdir / 'db.sqlite3'}",
            "ARTIFACT_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint, "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_DEBUG": "",
            "DJANGO_LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore::UserWarning",
            "GUNICORN_WORKERS": "1", "GUNICORN_ACCESS_LOG": "", "GUNICORN_LOG_LEVEL": "warning",
            "TMPDIR": str(workdir),
        }
        token, version_id = prepare_portal(env)
        portal = cleanup.enter_context(Process(
            "the portal", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                           "--bind", f"127.0.0.1:{port}"],
            env, port, "/api/v1/", workdir / "gunicorn.log"))

        path = workdir / "artifact.bin"
        digest = make_file(path, args.size)
        mib = args.size / MB

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlportal.settings")
        from boto3.s3.transfer import TransferConfig

        from mlportal.settings import ARTIFACT_TRANSFER_CONFIG as portal_config

        rows, mismatches = [], []

        def check(label, key):
            size, stored = stored_digest(client, key)
            if (size, stored) != (args.size, digest):
                mismatches.append(f"{label}: stored {size} bytes, sha256 {stored}")

        part_mib = portal_config.multipart_chunksize // MB
        for label, config in [
            ("boto3 upload_file, default TransferConfig", TransferConfig()),
            (f"boto3 upload_file, the portal's {part_mib} MiB parts x "
             f"{portal_config.max_concurrency}", portal_config),
        ]:
            key = f"direct/{uuid.uuid4().hex}"
            seconds = timed_boto3_upload(client, path, key, config)
            check(label, key)
            rows.append((label, mib / seconds, None))
            client.delete_object(Bucket=BUCKET, Key=key)

        small = workdir / "warmup.bin"
        make_file(small, MB)
        upload(port, token, version_id, "warmup", small)  # imports, first connection
        with PeakMemory(worker_pid(portal)) as memory:
            seconds, status, body = upload(port, token, version_id, "trained", path)
        if status != 201:
            raise SystemExit(f"The portal refused the upload: {status} {body[:500]!r}")
        artifact = json.loads(body)
        if artifact["sha256"] != digest or artifact["size"] != args.size:
            mismatches.append(f"portal: answered size {artifact['size']}, "
                              f"sha256 {artifact['sha256']}")
        check("portal", artifact["uri"].removeprefix(f"s3://{BUCKET}/"))
        rows.append(("portal API (multipart POST, gunicorn 1 worker)", mib / seconds, memory))

        best = max(rate for _, rate, _ in rows[:2])
        portal_rate = rows[2][1]
        share = portal_rate / best
        print(f"Artifact upload of {mib:.0f} MiB to S3 (moto_server on loopback), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}:")
        print(f"  {'upload':<52} {'MB/s':>8}")
        for label, rate, _ in rows:
            print(f"  {label:<52} {rate:>8.1f}")
        print(f"  portal / faster boto3: {share:.0%} (target >= 80%: "
              f"{'pass' if share >= 0.8 else 'FAIL'})")
        print(f"  worker memory: {memory.before:.0f} MB before, peak {memory.peak:.0f} MB, "
              f"growth {memory.growth:.0f} MB (target < 100 MB: "
              f"{'pass' if memory.growth < 100 else 'FAIL'})")
        print("  stored objects: " + ("size and sha256 match the file" if not mismatches
                                      else "MISMATCH: " + "; ".join(mismatches)))
        if mismatches:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
