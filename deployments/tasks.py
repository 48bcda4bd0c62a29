"""The periodic drift check on the task queue (standard Django Tasks interface, django-tasks):
`check_drift` runs deployments.reconcile over every enabled cloud account, then queues its
next run MLPORTAL_DRIFT_CHECK_SECONDS later. The chain starts when a cloud account is saved,
or with `manage.py reconcile_deployments --schedule`; one run is queued at a time.

Tasks take no arguments that could hold a secret, and a run twice over is harmless: a check
opens, keeps or resolves findings by what it sees.
"""

import datetime
import logging

from django.conf import settings
from django.utils import timezone

from deployments import reconcile

try:
    from django_tasks import task
except ImportError:  # Django 6 has the interface built in
    from django.tasks import task

logger = logging.getLogger(__name__)


@task()
def check_drift():
    """One drift check of every enabled account; then the next one is queued."""
    report = reconcile.reconcile(source="task")
    schedule_drift_check()
    return {"deployments_checked": report.deployments_checked,
            "differences": len(report.observations), "opened": len(report.opened),
            "resolved": len(report.resolved), "account_errors": len(report.account_errors)}


def schedule_drift_check():
    """Make sure a check is queued (one at a time) MLPORTAL_DRIFT_CHECK_SECONDS from now.
    Only with the database backend; with others, run `manage.py reconcile_deployments`
    (cron). Returns the queued result, or None."""
    try:
        from django_tasks_db.models import DBTaskResult

        backend = check_drift.get_backend()
        if not type(backend).__module__.startswith("django_tasks_db"):
            return None
        if DBTaskResult.objects.filter(task_path=check_drift.module_path,
                                       status="READY").exists():
            return None
        run_after = timezone.now() + datetime.timedelta(
            seconds=settings.MLPORTAL_DRIFT_CHECK_SECONDS)
        return check_drift.using(run_after=run_after).enqueue()
    except Exception:
        logger.exception("Could not schedule the drift check.")
        return None
