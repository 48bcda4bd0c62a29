"""Load the catalog documents of a Git repository into the catalog (see docs/model-cards.md,
"Model cards in Git")."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from catalog.git import GitError
from catalog.sync import sync_catalog

BAR_WIDTH = 30


class Command(BaseCommand):
    help = ("Create or update catalog models from the catalog documents (*.yaml, *.yml, "
            "*.json, Markdown with front matter) of a Git repository at a ref.")

    def add_arguments(self, parser):
        parser.add_argument("repository", help="Path of a local repository, or a URL to fetch.")
        parser.add_argument("--ref", default="HEAD",
                            help="Branch, tag or commit to read (default: HEAD).")
        parser.add_argument("--path", default="", dest="subdirectory",
                            help="Read only this folder of the repository.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print what would change and write nothing.")

    def handle(self, *args, repository, ref, subdirectory, dry_run, **options):
        try:
            report = sync_catalog(repository=repository, ref=ref, subdirectory=subdirectory,
                                  dry_run=dry_run, progress=self.show_progress)
        except GitError as exc:
            raise CommandError(f"Cannot read {repository} at {ref}: {exc}") from exc
        except ValidationError as exc:  # a malformed --ref or --path
            raise CommandError(" ".join(exc.messages)) from exc

        would = "would be " if dry_run else ""
        for entry in report.created:
            self.stdout.write(f"{would}created: {entry['model']} ({entry['path']})")
        for entry in report.updated:
            self.stdout.write(f"{would}updated: {entry['model']} ({entry['path']}): "
                              f"{', '.join(entry['fields'])}")
        for entry in report.removed:
            self.stdout.write(f"{would}marked no longer in Git: {entry['model']} "
                              f"({entry['path']} is gone)")
        for failure in report.failed:
            self.stderr.write(f"failed: {failure['path']}: {failure['reason']}")

        heading = "Dry run, nothing written" if dry_run else "Synced"
        summary = f"{heading}: {report.repository} at {report.commit[:12]}: {report.summary()}."
        self.stdout.write(self.style.SUCCESS(summary) if report.ok else self.style.WARNING(summary))
        if not report.ok:
            raise CommandError(f"{len(report.failed)} file(s) failed.")

    def show_progress(self, done, total):
        filled = BAR_WIDTH * done // total
        self.stderr.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}",
            ending="\n" if done == total else "",
        )
        self.stderr.flush()
