"""`manage.py reconcile_deployments [--account NAME_OR_ID ...] [--dry-run]`: compare the
active deployments with what runs in AWS (deployments.reconcile), with a progress bar on
stderr and a summary on stdout. Exit status 1 when drift is found, 0 when none."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from tqdm import tqdm

from deployments import reconcile
from deployments.models import CloudAccount
from deployments.tasks import schedule_drift_check


class Command(BaseCommand):
    help = ("Compare the active deployments with what runs in the cloud accounts (read-only) "
            "and record the drift found. Exits 1 when drift is found.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", action="append", default=[], metavar="NAME_OR_ID",
            help="Check only this cloud account (its name or AWS account id); repeatable. "
                 "Default: every enabled account.")
        parser.add_argument(
            "--dry-run", action="store_true",
            help="Report what a check finds without opening or resolving findings.")
        parser.add_argument(
            "--schedule", action="store_true",
            help="Only make sure the periodic check is queued on the task queue, and exit.")

    def _accounts(self, wanted):
        if not wanted:
            return CloudAccount.objects.filter(enabled=True)
        accounts = []
        for name in wanted:
            account = CloudAccount.objects.filter(Q(name=name) | Q(account_id=name)).first()
            if account is None:
                known = ", ".join(CloudAccount.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No cloud account named {name!r} (known: {known}).")
            accounts.append(account)
        return accounts

    def handle(self, *args, account, dry_run, schedule, **options):
        if schedule:
            queued = schedule_drift_check()
            self.stdout.write("Periodic drift check queued." if queued else
                              "A drift check is queued already (or the queue is not the "
                              "database's: run this command from cron instead).")
            return
        accounts = list(self._accounts(account))
        steps, _ = reconcile.plan(accounts)
        total = sum(len(deployments) + 1 for _, _, deployments in steps)
        bar = tqdm(total=total, desc="Checking deployments", unit="step", file=sys.stderr,
                   disable=None if options["verbosity"] >= 1 else True)
        try:
            report = reconcile.reconcile(accounts=accounts, dry_run=dry_run,
                                         progress=lambda item: bar.update(1))
        finally:
            bar.close()
        self._summary(report, dry_run)
        if report.drift:
            sys.exit(1)

    def _summary(self, report, dry_run):
        write = self.stdout.write
        write(f"Accounts: {report.accounts}, regions: {report.regions}; deployments checked: "
              f"{report.deployments_checked}; other resources listed: "
              f"{report.resources_listed}.")
        for account, message in report.account_errors:
            write(self.style.ERROR(f"Could not read {account}: {message}"))
        for deployment, why in report.not_checked:
            write(self.style.WARNING(f"Not checked: {deployment} ({deployment.resource}): "
                                     f"{why}."))
        kinds = ", ".join(f"{kind} {count}" for kind, count in report.by_kind().items())
        if dry_run:
            write(f"Dry run: {len(report.observations)} difference(s) found"
                  f"{f' ({kinds})' if kinds else ''}; nothing recorded.")
            for observation in report.observations:
                about = observation.deployment or observation.resource
                subject = f" {observation.subject}" if observation.subject else ""
                write(f"  {observation.kind}{subject}: {about}: expected "
                      f"{observation.expected}; found {observation.found}")
        else:
            write(f"Findings: {len(report.opened)} opened, {report.kept_open} still open, "
                  f"{len(report.resolved)} resolved{f' ({kinds})' if kinds else ''}.")
        style = self.style.ERROR if report.drift else self.style.SUCCESS
        write(style("Drift found." if report.drift else "No drift."))
