"""Fill the database with a large, realistic registry for benchmarks: namespaces, catalog
models, versions (an artifact and a tag each, numbered by each model's counter), a champion
alias per model, deployments with their status history, and the audit trail's record of
every audited row, as the services would have written them.

On PostgreSQL the rows go in with COPY (ids assigned here, sequences moved past them
afterwards); elsewhere with bulk inserts. Run it on a database of its own, with no other
writer: it refuses a database that already has its namespace.

    manage.py seed_benchmark --models 100000 --versions 1000000 --deployments 200000
    manage.py seed_benchmark --scale 0.1       # a tenth of those
"""

import io
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from catalog.models import CatalogModel, Namespace
from deployments.models import Deployment, StatusChange
from mlportal import audit
from mlportal.choices import ChangeAction
from mlportal.models import ObjectChange
from registry.models import Alias, Artifact, ModelVersion, Tag, VersionCounter

ROOT = "/seed"
START = datetime(2024, 1, 1, tzinfo=UTC)


class Progress:
    """One line per table, rewritten in place: rows written, share, rate."""

    def __init__(self, label, total, stream):
        self.label, self.total, self.stream = label, total, stream
        self.done, self.started = 0, time.monotonic()

    def advance(self, count):
        self.done += count
        elapsed = time.monotonic() - self.started
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        self.stream.write(
            f"\r  {self.label:<14} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done:>10,}/{self.total:,} {self.done / elapsed if elapsed else 0:>9,.0f}/s")
        self.stream.flush()

    def finish(self):
        self.stream.write(f"  {time.monotonic() - self.started:.1f} s\n")


def _copy_value(field, obj):
    value = field.pre_save(obj, add=True)
    if value is None:
        return r"\N"
    if isinstance(field, models.JSONField):
        value = json.dumps(value, cls=DjangoJSONEncoder)
    elif isinstance(field, models.BooleanField):
        value = "t" if value else "f"
    else:
        value = field.get_db_prep_save(value, connection)
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


class Writer:
    """Writes rows of one model at a time: COPY on PostgreSQL, bulk_create elsewhere."""

    def __init__(self, batch, stream):
        self.batch, self.stream = batch, stream
        self.copy = connection.vendor == "postgresql"
        self.next_ids = {}

    def assign_ids(self, model, rows):
        """Give unsaved rows their ids (so that other rows can refer to them before COPY)."""
        if model not in self.next_ids:
            highest = model.objects.aggregate(highest=models.Max("pk"))["highest"] or 0
            self.next_ids[model] = highest + 1
        for row in rows:
            row.pk = self.next_ids[model]
            self.next_ids[model] += 1

    def write(self, model, rows):
        if not rows:
            return
        if not self.copy:
            model.objects.bulk_create(rows, batch_size=min(self.batch, 500))
            return
        fields = model._meta.concrete_fields
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_value(field, row) for field in fields))
            buffer.write("\n")
        buffer.seek(0)
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        with connection.cursor() as cursor:
            cursor.connection.cursor().copy_expert(
                f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
                "FROM STDIN", buffer)

    def finish(self):
        if not self.copy:
            return
        with connection.cursor() as cursor:
            for model in self.next_ids:
                table = model._meta.db_table
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f"(SELECT MAX({connection.ops.quote_name(model._meta.pk.column)}) "
                    f"FROM {connection.ops.quote_name(table)}))",
                    [table, model._meta.pk.column])


class Command(BaseCommand):
    help = "Fill the database with a large registry (models, versions, deployments, audit)."

    def add_arguments(self, parser):
        parser.add_argument("--models", type=int, default=100_000)
        parser.add_argument("--versions", type=int, default=1_000_000)
        parser.add_argument("--deployments", type=int, default=200_000)
        parser.add_argument("--namespaces", type=int, default=1_000)
        parser.add_argument("--scale", type=float, default=1.0,
                            help="multiply every size by this (e.g. 0.1)")
        parser.add_argument("--big-model-versions", type=int, default=10_000,
                            help="versions of one more model, " + ROOT + "/big/big_model")
        parser.add_argument("--batch", type=int, default=20_000, help="rows per COPY")

    def handle(self, *args, **options):
        scale = options["scale"]
        sizes = {name: max(1, int(options[name] * scale))
                 for name in ("models", "versions", "deployments", "namespaces")}
        if Namespace.objects.filter(path=ROOT).exists():
            raise CommandError(f"{ROOT} exists already: seed an empty database.")
        self.writer = Writer(options["batch"], self.stderr._out if hasattr(
            self.stderr, "_out") else sys.stderr)
        self.stream = self.writer.stream
        self.types = {model: ContentType.objects.get_for_model(model) for model in (
            Namespace, CatalogModel, ModelVersion, Artifact, Tag, Alias, Deployment)}
        started = time.monotonic()
        with transaction.atomic():
            self.seed(**sizes, big=options["big_model_versions"])
            self.writer.finish()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
                cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                size = cursor.fetchone()[0]
        else:
            size = "n/a"
        self.stdout.write(
            f"Seeded {sizes['models']:,} models (+1 with {options['big_model_versions']:,} "
            f"versions), {sizes['versions']:,} versions, {sizes['deployments']:,} deployments "
            f"and their audit rows in {time.monotonic() - started:.0f} s; database size {size}.")

    # --- the rows -------------------------------------------------------------------------

    def audit_rows(self, rows, at):
        return [ObjectChange(
            time=at, user_name="seed_benchmark", principal="seed_benchmark", source="command",
            action=ChangeAction.CREATE, content_type=self.types[type(row)],
            object_id=str(row.pk), object_repr=str(row)[:200],
            namespace=audit.access.namespace_path(row) or "",
            prechange_data=None, postchange_data=snapshot,
        ) for row, snapshot in rows]

    def seed(self, *, models, versions, deployments, namespaces, big):
        writer = self.writer
        root = Namespace(path=ROOT, description="seed_benchmark")
        spaces = [root] + [Namespace(path=f"{ROOT}/team-{n:04d}", description="")
                           for n in range(namespaces)] + [Namespace(path=f"{ROOT}/big")]
        writer.assign_ids(Namespace, spaces)
        for space in spaces[1:]:
            space.parent = root
        self.write_with_audit(Namespace, spaces, "namespaces")

        catalog = [CatalogModel(namespace=spaces[1 + n % namespaces],
                                model_name=f"model-{n:06d}", owner="owner@example.com",
                                description=f"Model {n} for fraud, churn or claims")
                   for n in range(models)]
        big_model = CatalogModel(namespace=spaces[-1], model_name="big_model",
                                 owner="owner@example.com", description="10,000 versions")
        catalog.append(big_model)
        # Snapshots before ids: a new model has no data sources to look up.
        snapshots = [audit.snapshot(model) for model in catalog]
        writer.assign_ids(CatalogModel, catalog)
        self.write_with_audit(CatalogModel, catalog, "models", snapshots=snapshots)

        per_model = [versions // models + (1 if n < versions % models else 0)
                     for n in range(models)] + [big]
        progress = Progress("versions", sum(per_model), self.stream)
        counters, aliases, deployed = [], [], []
        batch = []
        for model, count in zip(catalog, per_model, strict=True):
            for number in range(1, count + 1):
                batch.append(ModelVersion(
                    catalog_model=model, model_version=number,
                    description=f"version {number} of {model.model_name}",
                    created_by="arn:aws:iam::123456789012:role/training",
                    create_at=START + timedelta(minutes=number)))
            if count:
                counters.append(VersionCounter(catalog_model=model, last_number=count))
            if len(batch) >= writer.batch:
                self.write_versions(batch, aliases, deployed, progress)
                batch = []
        self.write_versions(batch, aliases, deployed, progress)
        progress.finish()
        writer.write(VersionCounter, counters)
        self.write_with_audit(Alias, aliases, "aliases")
        self.write_deployments(deployed[:deployments], deployments)

    def write_with_audit(self, model, rows, label, snapshots=None):
        progress = Progress(label, len(rows), self.stream)
        self.writer.assign_ids(model, [row for row in rows if row.pk is None])
        step = self.writer.batch
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            self.writer.write(model, part)
            shots = (snapshots[start:start + step] if snapshots
                     else [audit.snapshot(row) for row in part])
            changes = self.audit_rows(zip(part, shots, strict=True), START)
            self.writer.assign_ids(ObjectChange, changes)
            self.writer.write(ObjectChange, changes)
            progress.advance(len(part))
        progress.finish()

    def write_versions(self, versions, aliases, deployed, progress):
        if not versions:
            return
        writer = self.writer
        writer.assign_ids(ModelVersion, versions)
        artifacts = [Artifact(version=version, name="model",
                              uri=f"s3://models/{version.catalog_model.model_name}/"
                                  f"{version.model_version}.tar.gz",
                              create_at=version.create_at)
                     for version in versions]
        tags = [Tag(version=version, key="batch", value=str(version.model_version % 10))
                for version in versions]
        writer.assign_ids(Artifact, artifacts)
        writer.assign_ids(Tag, tags)
        writer.write(ModelVersion, versions)
        writer.write(Artifact, artifacts)
        writer.write(Tag, tags)
        changes = self.audit_rows(
            [(row, audit.snapshot(row)) for row in [*versions, *artifacts, *tags]], START)
        writer.assign_ids(ObjectChange, changes)
        writer.write(ObjectChange, changes)
        # The champion is each model's first version; deployments run its latest two.
        for version in versions:
            if version.model_version == 1:
                aliases.append(Alias(catalog_model=version.catalog_model, name="champion",
                                     version=version))
                deployed.append(version)
            elif version.model_version == 2:
                deployed.append(version)
        progress.advance(len(versions))

    def write_deployments(self, versions, total):
        rows, history = [], []
        for n, version in enumerate(versions):
            at = version.create_at + timedelta(hours=1)
            rows.append(Deployment(
                model_version=version, catalog_model=version.catalog_model,
                deployment_id=version.model_version, create_at=at,
                endpoint=f"https://{version.catalog_model.model_name}.example.com/"
                         f"v{version.model_version}",
                environment=("prod", "staging", "dev")[n % 3], deployment_method="ecs",
                rolling_strategy="blue_green", status="active", active_from=at))
        self.writer.assign_ids(Deployment, rows)
        for row in rows:
            history.append(StatusChange(deployment=row, status="active", at=row.active_from,
                                        user_name="seed_benchmark",
                                        principal="seed_benchmark", reason="recorded"))
        self.write_with_audit(Deployment, rows, "deployments")
        self.writer.assign_ids(StatusChange, history)
        self.writer.write(StatusChange, history)
        if len(rows) < total:
            self.stream.write(f"  (only {len(rows):,} deployments: two per model at most)\n")
