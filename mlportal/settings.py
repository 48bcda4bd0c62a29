"""Settings for mlportal, read from the environment (see docs/operators.md, "Configuration").

The embedded defaults (SQLite in the project, artifacts on the local filesystem)
make a fresh clone run with no configuration; production sets DATABASE_URL,
ARTIFACT_STORAGE=s3 and the AWS_* variables.
"""

import os
from pathlib import Path

import dj_database_url
from boto3.s3.transfer import TransferConfig
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG")
# The fallback is for development only; `manage.py check --deploy` flags it.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-mlportal-development-key-change-me-in-production"
)
# Fernet keys for secrets at rest, newest first (comma-separated); default: derived from
# SECRET_KEY.
MLPORTAL_ENCRYPTION_KEYS = env_list("MLPORTAL_ENCRYPTION_KEYS", "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    # django.contrib.admin with the portal's admin site (mlportal.sites).
    "mlportal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "mlportal",
    "catalog",
    "registry",
    "deployments",
    # The auditors' pages: they import the apps; nothing imports them.
    "mlportal.pages",
]

MIDDLEWARE = [
    # /healthz and /readyz are answered here, before sessions and authentication.
    "mlportal.ops.HealthMiddleware",
    "mlportal.ops.RequestIdMiddleware",
    "mlportal.ops.MetricsMiddleware",
    # An ETag on every GET answer; a client sending it back in If-None-Match gets a 304
    # without the body when the document has not changed.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mlportal.middleware.RefuseNulInURLMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mlportal.context.ContextMiddleware",
]

ROOT_URLCONF = "mlportal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mlportal.wsgi.application"

# Connections are kept between requests (DATABASE_CONN_MAX_AGE seconds, default 10 minutes;
# 0 closes each at the end of its request) and checked before reuse, so that a connection the
# server dropped is replaced instead of failing a request.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
DATABASE_VENDOR = DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
if DATABASE_VENDOR == "sqlite3":
    # Concurrent writers wait for the lock instead of failing with "database is locked",
    # and IMMEDIATE transactions take the write lock up front (see registry.services).
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}

# Prometheus metrics (README, "Operations"): requests by view and status, latency, and the
# time of database queries (through django-prometheus's database backends).
MLPORTAL_METRICS = env_flag("MLPORTAL_METRICS", True)
# Who may read /metrics: client addresses (REMOTE_ADDR) in these networks; others get 404.
MLPORTAL_METRICS_ALLOWED_NETWORKS = env_list("MLPORTAL_METRICS_ALLOWED_NETWORKS",
                                             "127.0.0.0/8,::1/128")
# (PostgreSQL, the production database; the embedded SQLite keeps Django's own backend.)
if MLPORTAL_METRICS and DATABASE_VENDOR == "postgresql":
    DATABASES["default"]["ENGINE"] = f"django_prometheus.db.backends.{DATABASE_VENDOR}"
# Take the request id a proxy sends in X-Request-ID (a UUID) instead of making one.
MLPORTAL_TRUST_REQUEST_ID = env_flag("MLPORTAL_TRUST_REQUEST_ID")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's ModelBackend, with failed sign-ins throttled per client address on every path.
AUTHENTICATION_BACKENDS = ["mlportal.throttling.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "pages:search"
LOGOUT_REDIRECT_URL = "login"

# HTTPS deployments (docs/operators.md, "Production settings"): DJANGO_HTTPS=1 turns on everything
# below; each variable overrides its part. `manage.py check --deploy` is then clean.
HTTPS = env_flag("DJANGO_HTTPS")
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", HTTPS)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env_flag("DJANGO_BEHIND_TLS_PROXY"):
    # The proxy terminates TLS and says so in X-Forwarded-Proto (it must overwrite the header).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_COOKIE_AGE", str(12 * 3600)))
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp): scripts and styles from the portal
# only, an inline <style> only with the response's nonce, no plugins, no framing, forms post
# to the portal only. Images may be data: URIs (the admin's and Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}
# Error reports (debug pages, mails to ADMINS) hide every secret-looking value.
DEFAULT_EXCEPTION_REPORTER_FILTER = "mlportal.secrets.SecretReporterFilter"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"

# Request bodies (JSON, form fields) up to 2.5 MB, Django's default; larger ones get a JSON 413
# on the API. Catalog push webhooks take up to 25 MB, what GitHub sends at most.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
MLPORTAL_WEBHOOK_MAX_BODY_SIZE = 25 * 1024 * 1024

# Uploads larger than this are spooled to a temporary file while the request is read, so an
# upload never sits whole in memory. An artifact whose form names it before the file skips
# the temporary file: it goes to the store as it arrives (registry/api/uploads.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

ARTIFACT_STORAGE = os.environ.get("ARTIFACT_STORAGE", "local")
# Uploads reach S3 through a non-seekable reader that hashes as it goes; boto3 buffers such a
# stream part by part: at most 2 parts of 8 MB in memory at a time. With 4 a worker grew by
# about 85 MB during a large upload instead of 50, and went no faster on 2 CPUs
# (scripts/benchmark_upload.py).
ARTIFACT_TRANSFER_CONFIG = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
ARTIFACT_TRANSFER_CONFIG.max_in_memory_upload_chunks = 2
if ARTIFACT_STORAGE == "s3":
    ARTIFACTS_BACKEND = {
        "BACKEND": "registry.storage.ArtifactS3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_expire": 300,
            "transfer_config": ARTIFACT_TRANSFER_CONFIG,
        },
    }
elif ARTIFACT_STORAGE == "local":
    ARTIFACTS_BACKEND = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "artifacts", "base_url": None},
    }
else:
    raise ImproperlyConfigured("ARTIFACT_STORAGE must be 'local' or 's3'.")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    "artifacts": ARTIFACTS_BACKEND,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mlportal.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["mlportal.access.PortalPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "mlportal.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "mlportal.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "mlportal.api.errors.exception_handler",
    # JSON with a bound on nesting (mlportal.api.parsers), forms and multipart uploads.
    "DEFAULT_PARSER_CLASSES": [
        "mlportal.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "mlportal.api.renderers.BrowsableAPIRenderer",
    ],
    # How many proxies in front of the portal append to X-Forwarded-For: the client address
    # (for sign-in throttling) is read that many places from the right; 0 uses REMOTE_ADDR,
    # so that a client cannot dodge the throttle with a made-up header.
    "NUM_PROXIES": int(os.environ.get("MLPORTAL_NUM_PROXIES", "0")),
}

# Failed sign-ins (admin and token endpoint) allowed per client address: "<n>/<period>".
MLPORTAL_LOGIN_RATE = os.environ.get("MLPORTAL_LOGIN_RATE", "10/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "mlportal API",
    "DESCRIPTION": "Catalog, registry and deployments of the organisation's ML models.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A tag per resource, summaries, examples, what {id} is, error answers: mlportal.api.schema.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "mlportal.api.schema.document"],
    # validatorUrl None: Swagger UI would send the schema to validator.swagger.io for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "docExpansion": "none", "validatorUrl": None,
                            "defaultModelsExpandDepth": 0, "tryItOutEnabled": False},
    # Several resources have a "status"; each set of values gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "VersionStatusEnum": "registry.choices.VersionStatus",
        "DeploymentStatusEnum": "deployments.choices.DeploymentStatus",
    },
}

# Background work (event delivery, Git syncs) through the standard Django Tasks interface
# (django-tasks): the database is the queue; `manage.py db_worker` processes run it (README,
# "Background work"). MLPORTAL_TASKS_BACKEND=immediate runs tasks in the request instead.
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[os.environ.get("MLPORTAL_TASKS_BACKEND", "database")],
    }
}

# Outgoing webhooks (README, "Events and webhooks").
MLPORTAL_WEBHOOKS = {
    # http:// targets are refused unless this is on (development only).
    "ALLOW_HTTP": env_flag("MLPORTAL_WEBHOOKS_ALLOW_HTTP"),
    # Addresses or networks (CIDR) a webhook may reach although they are loopback, private,
    # link-local, ...: e.g. "10.1.2.0/24,127.0.0.1". Empty: public addresses only.
    "ALLOWED_NETWORKS": env_list("MLPORTAL_WEBHOOKS_ALLOWED_NETWORKS", ""),
    "CONNECT_TIMEOUT": float(os.environ.get("MLPORTAL_WEBHOOKS_CONNECT_TIMEOUT", "5")),
    "READ_TIMEOUT": float(os.environ.get("MLPORTAL_WEBHOOKS_READ_TIMEOUT", "10")),
    # How much of a receiver's answer is read (and kept in the delivery log).
    "MAX_RESPONSE_BYTES": int(os.environ.get("MLPORTAL_WEBHOOKS_MAX_RESPONSE_BYTES", "4096")),
    # Retries: after attempt n, wait BACKOFF_BASE * 2**(n-1) seconds (at most BACKOFF_MAX),
    # +-JITTER of it, until RETRY_FOR seconds have passed since the first attempt.
    "BACKOFF_BASE": float(os.environ.get("MLPORTAL_WEBHOOKS_BACKOFF_BASE", "30")),
    "BACKOFF_MAX": float(os.environ.get("MLPORTAL_WEBHOOKS_BACKOFF_MAX", "3600")),
    "JITTER": 0.25,
    "RETRY_FOR": float(os.environ.get("MLPORTAL_WEBHOOKS_RETRY_FOR", str(24 * 3600))),
    # A subscription is paused after this many deliveries in a row have failed for good.
    "PAUSE_AFTER_FAILED_DELIVERIES": int(
        os.environ.get("MLPORTAL_WEBHOOKS_PAUSE_AFTER_FAILED_DELIVERIES", "5")),
}
# The outbox sweep re-enqueues events and deliveries whose task was lost (a crash between
# the commit and the enqueue): every this many seconds, for what has waited at least as long.
MLPORTAL_OUTBOX_SWEEP_SECONDS = float(os.environ.get("MLPORTAL_OUTBOX_SWEEP_SECONDS", "60"))
# How often the task queue runs the drift check (deployments.tasks.check_drift).
MLPORTAL_DRIFT_CHECK_SECONDS = float(os.environ.get("MLPORTAL_DRIFT_CHECK_SECONDS", "1800"))
# A sync whose source is being synced by another worker waits this long, then tries again.
MLPORTAL_SYNC_BUSY_RETRY_SECONDS = float(os.environ.get("MLPORTAL_SYNC_BUSY_RETRY_SECONDS", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # botocore's debug log holds request parameters and response bodies (a role's external
    # id, the environment of what runs in AWS): never below INFO, whatever the root says.
    "loggers": {"botocore": {"level": "INFO"}, "boto3": {"level": "INFO"}},
}

# MLflow client (registry.mlflow): the namespace of models whose MLflow name has no dot.
MLPORTAL_MLFLOW_DEFAULT_NAMESPACE = os.environ.get("MLPORTAL_MLFLOW_DEFAULT_NAMESPACE", "/mlflow")
