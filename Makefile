# mlportal: `make demo` serves the portal with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve worker test lint benchmark benchmark-mlflow clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# A task worker (events, webhooks, Git syncs) runs beside the server and stops with it.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo --site http://$(HOST):$(PORT)
	$(BIN)/python manage.py sweep_outbox
	$(BIN)/python manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# One task worker in the foreground (production: run as many as the load needs).
worker: install
	$(BIN)/python manage.py db_worker --no-reload

serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn -c gunicorn.conf.py mlportal.wsgi --bind $(HOST):$(PORT)

test: install
	$(BIN)/python manage.py makemigrations --check --dry-run --verbosity 0
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports

# Each area has its own script, scripts/benchmark_<area>.py; each prints its figures.
benchmark: install
	set -e; for script in scripts/benchmark_*.py; do $(BIN)/python $$script; done

# The portal against a pinned MLflow server, side by side on the local PostgreSQL
# (BENCH_PG=postgres://user@host:port; it creates and drops its own two databases).
benchmark-mlflow: install
	$(BIN)/python scripts/benchmark_mlflow.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
