"""Catalog workflows, and the grants on its namespaces. The API, the admin, the demo loader
and the Git sync (catalog.sync) call these."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import (
    CatalogModel,
    CatalogSource,
    CatalogSync,
    DataSource,
    Namespace,
    SyncStatus,
)
from catalog.validators import validate_namespace_path
from mlportal import access, events
from mlportal.models import Grant
from mlportal.secrets import mask, merge_masked

DATA_SOURCE_FIELDS = ("type", "description", "owner", "connection")


@transaction.atomic
def ensure_namespace(path, *, description=None):
    """The namespace at `path`, created with its missing ancestors on first use."""
    validate_namespace_path(path)
    namespace = Namespace(path=path)
    parent = None
    for ancestor_path in [*namespace.ancestor_paths(), path]:
        namespace, created = Namespace.objects.get_or_create(
            path=ancestor_path, defaults={"parent": parent}
        )
        parent = namespace
    if description is not None and namespace.description != description:
        namespace.description = description
        namespace.save()
    return namespace


@transaction.atomic
def create_namespace(*, path, description=""):
    if Namespace.objects.filter(path=path).exists():
        raise ValidationError({"path": ValidationError(
            f"The namespace {path} exists already.", code="unique")})
    return ensure_namespace(path, description=description)


def _may_change(source):
    """May the acting user (the request's, or the change context's) change `source`? The
    system itself (no user: a command, the sync from Git) may."""
    user = access.acting_user()
    return user is None or access.can(user, "change", source)


def _contradictions(stored, document):
    """The fields of a model's data source `document` that differ from the `stored` one.

    Secret values are compared only for whoever may change the data source: for anyone
    else only what they can read is compared (the masked connection), so that the answer
    never depends on a stored secret (no oracle for guessing it), and their secret values
    are ignored, as the link never writes to the data source anyway.
    """
    differing = []
    for field in DATA_SOURCE_FIELDS:
        if field not in document:
            continue
        value, current = document[field], getattr(stored, field)
        if field == "connection":
            value = merge_masked(value, current)
            if value != current and not _may_change(stored):
                value, current = mask(value), mask(current)
        if value != current:
            differing.append(field)
    return differing


def resolve_data_sources(documents, *, stored=None):
    """Data sources for a model's `data_sources` list: linked by name, created when new.

    A document that contradicts the stored data source of that name is refused:
    data sources are shared, so a model's document must not silently change one.
    `stored` (by name) saves reading them when the caller has them all at hand.
    """
    names = [document["name"] for document in documents]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValidationError({"data_sources": f"Listed twice: {', '.join(duplicates)}."})
    if stored is None:
        stored = DataSource.objects.in_bulk(names, field_name="name")
    sources, errors = [], []
    for document in documents:
        source = stored.get(document["name"])
        if source is None:
            source = DataSource(**document)
            try:
                source.full_clean()
            except ValidationError as exc:
                errors.append(f"{document['name']}: {'; '.join(exc.messages)}")
                continue
            source.save()
        else:
            differing = _contradictions(source, document)
            if differing:
                errors.append(
                    f"{source.name}: {', '.join(differing)} differ from the stored data source; "
                    "change the data source itself at /api/v1/data-sources/, or give only its name."
                )
                continue
        sources.append(source)
    if errors:
        raise ValidationError({"data_sources": errors})
    return sources


@transaction.atomic
def save_catalog_model(*, instance=None, namespace=None, data_sources=None, inference=None,
                       git_origin=None, **fields):
    """Create or update a catalog model from its document's parts.

    `namespace` is a path, created on first use; `data_sources` a list of data source
    documents (None leaves the links as they are); `inference` the document's
    {"input": {...}, "output": {...}}, of which only the parts given change.
    `git_origin` (git_* fields, in_git, model_card) comes with a write from a card in Git
    (catalog.sync) only; any other write may not change what a card in Git sets.
    """
    if instance is not None and instance.in_git and git_origin is None:
        instance.refuse_changes_managed_in_git(instance.document_changes(
            namespace=namespace, data_sources=data_sources, inference=inference, **fields))
    model = instance or CatalogModel()
    for name, value in (git_origin or {}).items():
        setattr(model, name, value)
    if namespace is not None:
        try:
            model.namespace = ensure_namespace(namespace)
        except ValidationError as exc:
            raise ValidationError({"namespace": exc.messages}) from exc
    for name, value in fields.items():
        setattr(model, name, value)
    for direction, part in (inference or {}).items():
        for key in ("description", "schema"):
            if key in part:
                setattr(model, f"inference_{direction}_{key}", part[key])
    model.full_clean(validate_unique=False, validate_constraints=False)
    clash = CatalogModel.objects.filter(
        namespace=model.namespace, model_name=model.model_name
    ).exclude(pk=model.pk)
    if clash.exists():
        raise ValidationError({"model_name": ValidationError(
            f"{model.namespace.path} already has a model named {model.model_name}.",
            code="unique")})
    sources = resolve_data_sources(data_sources) if data_sources is not None else None
    model.save()
    if sources is not None:
        model.data_sources.set(sources)
    events.emit(events.CATALOG_MODEL_CREATED if instance is None else events.CATALOG_MODEL_CHANGED, model)  # noqa: E501
    return model


@transaction.atomic
def save_data_source(*, instance=None, **fields):
    source = instance or DataSource()
    if "connection" in fields and instance is not None:
        fields["connection"] = merge_masked(fields["connection"], instance.connection)
    for name, value in fields.items():
        setattr(source, name, value)
    source.full_clean(validate_unique=False)
    if DataSource.objects.filter(name=source.name).exclude(pk=source.pk).exists():
        raise ValidationError({"name": ValidationError(
            f"A data source named {source.name} exists already.", code="unique")})
    source.save()
    return source


@transaction.atomic
def save_catalog_source(*, instance=None, **fields):
    source = instance or CatalogSource()
    for name, value in fields.items():
        setattr(source, name, value)
    source.full_clean(validate_unique=False, validate_constraints=False)
    clash = CatalogSource.objects.filter(
        repository=source.repository, ref=source.ref, subdirectory=source.subdirectory
    ).exclude(pk=source.pk)
    if clash.exists():
        raise ValidationError({"repository": ValidationError(
            f"{source} is a catalog source already.", code="unique")})
    source.save()
    return source


@transaction.atomic
def save_grant(*, instance=None, namespace=None, **fields):
    """Create or update a grant. `namespace` is a path, created on first use like the
    catalog's; `fields` are user, group and role."""
    grant = instance or Grant()
    if namespace is not None:
        try:
            grant.namespace = ensure_namespace(namespace)
        except ValidationError as exc:
            raise ValidationError({"namespace": exc.messages}) from exc
    for name, value in fields.items():
        setattr(grant, name, value)
    grant.full_clean(validate_unique=False, validate_constraints=False)
    grantee = {"user": grant.user} if grant.user_id else {"group": grant.group}
    clash = Grant.objects.filter(namespace=grant.namespace, **grantee).exclude(pk=grant.pk)
    if clash.exists():
        field = next(iter(grantee))
        raise ValidationError({field: ValidationError(
            f"{grant.grantee} already has a grant on {grant.namespace.path}; change its role "
            "instead.", code="unique")})
    grant.save()
    return grant


@transaction.atomic
def request_sync(*, source, trigger, user=None):
    """Queue a sync of `source` for a worker (catalog.tasks) and return it at once. A sync of
    the source that is still queued serves this request too (it will read the latest
    commit); a running one is followed by the new one."""
    from catalog.tasks import run_catalog_sync

    waiting = CatalogSync.objects.filter(source=source, status=SyncStatus.QUEUED).first()
    if waiting is not None:
        if waiting.queued_at < timezone.now() - timedelta(minutes=1):
            # Its task may have been lost (a crash after the commit): queue it again; a sync
            # runs once whatever the number of its tasks.
            transaction.on_commit(lambda: run_catalog_sync.enqueue(waiting.pk), robust=True)
        return waiting
    sync = CatalogSync.objects.create(
        source=source, trigger=trigger,
        requested_by=user if user is not None and user.is_authenticated else None)
    transaction.on_commit(lambda: run_catalog_sync.enqueue(sync.pk), robust=True)
    return sync
