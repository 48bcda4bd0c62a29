"""Loading the catalog documents of a Git repository into the catalog.

The one sync workflow: the sync_catalog command, the admin's "sync now" action, the
API's sync action and the push webhook all call `sync_catalog` (or, for a catalog
source, `sync_catalog_source`). Documents are checked by the serializer the API uses too
(catalog.documents) and saved through catalog.services, so that a card and an API call
meet the same rules and errors.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import git
from catalog.cards import DOCUMENT_SUFFIXES, MAX_CARD_BYTES, CardError, error_text, parse_card
from catalog.documents import CatalogModelSerializer
from catalog.models import CatalogModel
from catalog.services import resolve_data_sources, save_catalog_model
from mlportal.context import change_context

# How a change of a model's Git origin is reported (as the API document names it).
ORIGIN_NAMES = {"git_repository": "source", "git_path": "source", "in_git": "in_git",
                "git_managed_fields": "managed_fields", "model_card": "model_card"}


@dataclass
class SyncReport:
    repository: str
    commit: str
    dry_run: bool = False
    created: list = field(default_factory=list)  # {"model", "path"}
    updated: list = field(default_factory=list)  # {"model", "path", "fields"}
    unchanged: list = field(default_factory=list)  # {"model", "path"}
    removed: list = field(default_factory=list)  # {"model", "path"}: no longer in Git
    failed: list = field(default_factory=list)  # {"path", "reason"}

    @property
    def ok(self):
        return not self.failed

    def counts(self):
        return {name: len(getattr(self, name))
                for name in ("created", "updated", "unchanged", "removed", "failed")}

    def summary(self):
        counts = self.counts()
        return (f"{counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged, {counts['failed']} failed, "
                f"{counts['removed']} no longer in Git")

    def as_result(self):
        """What a catalog source keeps of its last sync (and the API's sync action returns)."""
        result = asdict(self)
        del result["unchanged"]
        return {**result, "counts": self.counts()}


def sync_catalog(*, repository, ref="HEAD", subdirectory="", dry_run=False, user=None,
                 progress=None):
    """Create or update the catalog models described by the documents in `repository`
    at `ref` (under `subdirectory`), and mark the models whose card is gone as no longer
    in Git. An invalid document is reported in the SyncReport while the others load.

    `dry_run` does all the work in a transaction that is rolled back. `progress(done,
    total)` is called as files are processed. Raises git.GitError when the repository or
    the ref cannot be read.
    """
    subdirectory = subdirectory.strip("/")
    tree = git.read_tree(repository, ref=ref, subdirectory=subdirectory,
                         suffixes=DOCUMENT_SUFFIXES, max_bytes=MAX_CARD_BYTES)
    report = SyncReport(repository=tree.repository, commit=tree.commit, dry_run=dry_run)
    prefix = f"{subdirectory}/" if subdirectory else ""

    cards = []
    for file in tree.files:
        try:
            card = parse_card(file.path, file.data)
        except CardError as exc:
            report.failed.append({"path": file.path, "reason": str(exc)})
            continue
        if card is not None:
            cards.append(card)
    cards = _one_card_per_model(cards, tree.repository, report)
    named = _models_named_by(cards)

    principal = f"git:{tree.repository}@{tree.commit}"
    with transaction.atomic(), change_context(user=user, principal=principal, source="sync"):
        claimed = set()
        for done, card in enumerate(cards, start=1):
            try:
                outcome, model, fields = _apply(card, named.get(card.model_key), tree, prefix)
            except (CardError, ValidationError) as exc:
                report.failed.append({"path": card.path, "reason": _reason(exc)})
            except IntegrityError:
                report.failed.append({"path": card.path, "reason": (
                    "Conflicts with a change made at the same time; sync again.")})
            else:
                claimed.add(model.pk)
                entry = {"model": str(model), "path": card.path}
                if outcome == "updated":
                    entry["fields"] = fields
                getattr(report, outcome).append(entry)
            if progress is not None:
                progress(done, len(cards))
        failed_paths = {failure["path"] for failure in report.failed}
        stale = CatalogModel.objects.select_related("namespace").filter(
            in_git=True, git_repository=tree.repository)
        for model in stale:
            if (model.pk in claimed or model.git_path in failed_paths
                    or not model.git_path.startswith(prefix)):
                continue
            save_catalog_model(instance=model, git_origin={"in_git": False})
            report.removed.append({"model": str(model), "path": model.git_path})
        if dry_run:
            transaction.set_rollback(True)
    return report


def _one_card_per_model(cards, repository, report):
    """The cards to apply: of several cards naming one model, the one the model came from
    (else the first by path); the others fail."""
    by_model = defaultdict(list)
    for card in cards:
        by_model[card.model_key].append(card)
    keep = []
    for key, group in by_model.items():
        if key is None or len(group) == 1:
            keep += group
            continue
        model = CatalogModel.objects.filter(
            namespace__path=key[0], model_name=key[1], git_repository=repository).first()
        winner = next((card for card in group if model and card.path == model.git_path),
                      group[0])
        keep.append(winner)
        report.failed += [
            {"path": card.path, "reason": f"{key[0]}/{key[1]} is defined in {winner.path} "
                                          "already; a model has one card."}
            for card in group if card is not winner
        ]
    return sorted(keep, key=lambda card: card.path)


def _models_named_by(cards):
    """The stored models the cards name, by (namespace, model_name), read at once."""
    keys = {card.model_key for card in cards} - {None}
    models = CatalogModel.objects.filter(
        namespace__path__in={namespace for namespace, _ in keys}
    ).select_related("namespace").prefetch_related("data_sources")
    return {key: model for model in models
            if (key := (model.namespace.path, model.model_name)) in keys}


def _apply(card, existing, tree, prefix):
    """Create, update or leave the model `card` describes (`existing`, if stored):
    ("created" | "updated" | "unchanged", model, names of the changed fields)."""
    if existing is not None and existing.in_git and (
            (existing.git_repository, existing.git_path) != (tree.repository, card.path)):
        moved_within_this_source = (existing.git_repository == tree.repository
                                    and existing.git_path.startswith(prefix))
        if not moved_within_this_source:
            raise CardError(f"{existing} is managed in Git by {existing.git_path} in "
                            f"{existing.git_repository}; a model has one card.")

    serializer = CatalogModelSerializer(existing, data=card.document,
                                        partial=existing is not None)
    if not serializer.is_valid():
        raise CardError(error_text(serializer.errors))
    origin = {
        "git_repository": tree.repository,
        "git_path": card.path,
        "in_git": True,
        "git_managed_fields": card.managed_fields(),
        "model_card": card.body,
    }
    if existing is None:
        with transaction.atomic():
            model = serializer.save(git_origin={**origin, "git_commit": tree.commit})
        return "created", model, []

    arguments = serializer.service_arguments(serializer.validated_data)
    changed = existing.document_changes(**arguments)
    for name, value in origin.items():
        if getattr(existing, name) != value and ORIGIN_NAMES[name] not in changed:
            changed.append(ORIGIN_NAMES[name])
    if not changed:
        if arguments.get("data_sources") is not None:
            # Reports a card contradicting a stored data source even when nothing changes.
            resolve_data_sources(arguments["data_sources"], stored={
                source.name: source for source in existing.data_sources.all()})
        return "unchanged", existing, []
    with transaction.atomic():
        model = serializer.save(git_origin={**origin, "git_commit": tree.commit})
    return "updated", model, changed


def _reason(exc):
    if isinstance(exc, ValidationError):
        return error_text(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return str(exc)


def sync_catalog_source(source, *, user=None):
    """Sync `source` and record the outcome on it (commit, time, result)."""
    try:
        report = sync_catalog(repository=source.repository, ref=source.ref,
                              subdirectory=source.subdirectory, user=user)
    except git.GitError as exc:
        source.last_result = {"error": f"Cannot read the repository: {exc}"}
        source.last_synced_at = timezone.now()
        source.save(update_fields=["last_result", "last_synced_at"])
        raise
    source.last_synced_commit = report.commit
    source.last_synced_at = timezone.now()
    source.last_result = report.as_result()
    source.save(update_fields=["last_synced_commit", "last_synced_at", "last_result"])
    return report

