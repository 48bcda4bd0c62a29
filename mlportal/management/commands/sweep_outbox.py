"""Enqueue again the events and webhook deliveries whose task was lost, and make sure the
periodic sweep is queued (README, "Background work")."""

from django.core.management.base import BaseCommand

from mlportal.tasks import schedule_sweep, sweep


class Command(BaseCommand):
    help = ("Enqueue the events and webhook deliveries that have waited too long for a worker "
            "(lost between a commit and its enqueue), and queue the periodic sweep.")

    def handle(self, *args, **options):
        counts = sweep()
        schedule_sweep()
        self.stdout.write(f"Enqueued again: {counts['events']} events, "
                          f"{counts['deliveries']} deliveries.")
