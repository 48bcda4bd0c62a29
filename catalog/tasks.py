"""Git syncs on the task queue (standard Django Tasks interface): the push webhook, the API
and the admin queue a CatalogSync (catalog.services.request_sync); a worker runs it here.

Two syncs of one source never run at once: a sync becomes `running` only if no other sync
of its source is (a unique constraint on running syncs per source decides, on SQLite and
PostgreSQL alike); a sync that finds its source busy waits in the queue and tries again.
"""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import git
from catalog.models import CatalogSync, SyncStatus
from catalog.sync import sync_catalog_source
from mlportal import events

try:
    from django_tasks import task
except ImportError:  # Django 6 has the interface built in
    from django.tasks import task

logger = logging.getLogger(__name__)

# A sync running longer than this was left by a worker that stopped: it no longer blocks.
STALE_AFTER = datetime.timedelta(seconds=2 * git.GIT_TIMEOUT_SECONDS + 300)


def _start(sync_id):
    """Mark the sync running: the sync, None when it is not queued, or "busy"."""
    now = timezone.now()
    sync = CatalogSync.objects.filter(pk=sync_id, status=SyncStatus.QUEUED).first()
    if sync is None:
        return None
    CatalogSync.objects.filter(
        source_id=sync.source_id, status=SyncStatus.RUNNING, started_at__lt=now - STALE_AFTER,
    ).update(status=SyncStatus.FAILED, finished_at=now,
             message="The worker running this sync stopped before it finished.")
    try:
        with transaction.atomic():
            started = CatalogSync.objects.filter(pk=sync.pk, status=SyncStatus.QUEUED).update(
                status=SyncStatus.RUNNING, started_at=now)
    except IntegrityError:
        return "busy"
    return CatalogSync.objects.select_related("source", "requested_by").get(
        pk=sync.pk) if started else None


@task()
def run_catalog_sync(sync_id):
    """Run a queued sync (or wait for the source's running one to finish)."""
    sync = _start(sync_id)
    if sync is None:
        return "not queued"
    if sync == "busy":
        wait = datetime.timedelta(seconds=settings.MLPORTAL_SYNC_BUSY_RETRY_SECONDS)
        run_after = timezone.now() + wait
        run_catalog_sync.using(run_after=run_after).enqueue(sync_id)
        return "waiting for the running sync of its source"
    report, message = None, ""
    try:
        report = sync_catalog_source(sync.source, user=sync.requested_by)
    except git.GitError as exc:
        message = f"Cannot read {sync.source.repository} at {sync.source.ref}: {exc}"
    except Exception as exc:
        logger.exception("Sync %s failed", sync.pk)
        message = f"The sync failed: {type(exc).__name__}."
    finish(sync, report=report, message=message)
    return sync.status


@transaction.atomic
def finish(sync, *, report, message=""):
    sync.finished_at = timezone.now()
    if report is not None:
        sync.status = SyncStatus.SUCCEEDED
        sync.commit = report.commit
        sync.result = report.as_result()
        sync.message = f"{report.commit[:12]}: {report.summary()}."
    else:
        sync.status = SyncStatus.FAILED
        sync.message = message
    sync.save()
    events.emit(events.CATALOG_SYNC_FINISHED if report is not None else events.CATALOG_SYNC_FAILED, sync, namespace="")  # noqa: E501
