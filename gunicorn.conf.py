"""gunicorn's configuration for the portal in production (`make serve` uses it).

Every value can be overridden by an environment variable (or gunicorn's own options):

- GUNICORN_WORKERS (or WEB_CONCURRENCY): worker processes, default 2 x CPUs + 1 (at most 12);
- GUNICORN_THREADS: threads per worker (gthread), default 4;
- GUNICORN_TIMEOUT: seconds a worker may go silent before it is restarted, default 120 (a
  gthread worker reports while its threads serve: a long artifact upload is not cut);
- GUNICORN_KEEPALIVE: seconds an idle kept-alive connection stays open, default 5;
- GUNICORN_ACCESS_LOG: where the access log goes ("-" for stdout, the default; empty: off).
  Each line carries the request id (X-Request-ID) that the audit trail keeps.
- PROMETHEUS_MULTIPROC_DIR: where the workers share their metrics (default: a new
  temporary folder), so that /metrics counts every worker's requests.
"""

import multiprocessing
import os
import shutil
import tempfile


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


wsgi_app = "mlportal.wsgi"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY",
                                         min(2 * multiprocessing.cpu_count() + 1, 12)))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Restart a worker now and then, so that a slow leak cannot grow for ever.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Combined log format, then the request id and the time taken (microseconds).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    'request_id=%({x-request-id}o)s duration_us=%(D)s'
)

_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before the workers import the application: prometheus_client reads it at import.
    _metrics_dir = tempfile.mkdtemp(prefix="mlportal-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
