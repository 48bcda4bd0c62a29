"""Registry workflows. The API, the admin and the demo loader call these; none repeats them.

Version numbers: `register_version` takes the next number from the model's counter row
with one upsert (`next_version_number`), which locks that row until the commit, so
concurrent registrations of one model queue up and get 1, 2, 3, ... while registrations of
other models go on. On SQLite every transaction is IMMEDIATE (see settings), which takes
the database's write lock up front: concurrent writers wait for it (30 s busy timeout)
instead of failing.

Uploads: the name is reserved first (an `ArtifactUpload` row, unique per version and
name, committed), so that of concurrent uploads under one name only one streams and the
others get a 409 before they touch the store. The file then streams to the artifact storage
through `HashingReader`, which counts and hashes each chunk as the storage reads it, so a
large file never sits whole in memory. The storage call happens outside any transaction of
ours; the row is written afterwards, and if that fails the stored object is removed again.
The reservation goes in both cases.
"""

import datetime
import hashlib
import logging
import posixpath
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from catalog.models import CatalogModel
from mlportal import audit, events
from registry.choices import VersionStatus
from registry.models import (
    Alias,
    Artifact,
    ArtifactUpload,
    ModelTag,
    ModelVersion,
    Tag,
    VersionCounter,
)
from registry.validators import validate_artifact_name

logger = logging.getLogger(__name__)

# The scheme of the `uri` of an artifact kept in local (filesystem) artifact storage: not a
# place a client can read, but the key the portal serves at the artifact's download URL.
LOCAL_URI_PREFIX = "mlportal://artifacts/"
COMPOUND_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")
EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,16}\Z")
# An upload reserved longer ago than this was abandoned (its process died): its name is free.
UPLOAD_ABANDONED_AFTER = datetime.timedelta(hours=24)


class ArtifactStoreError(Exception):
    """The artifact storage could not take or serve a file. `unreachable` tells a store that
    did not answer (503) from one that refused (502)."""

    def __init__(self, message, *, unreachable):
        super().__init__(message)
        self.unreachable = unreachable


def _duplicate(field, message):
    return ValidationError({field: ValidationError(message, code="unique")})


def find_catalog_model(namespace, model_name, *, lock=False):
    models = CatalogModel.objects.select_related("namespace")
    if lock:
        models = models.select_for_update(of=("self",))
    model = models.filter(namespace__path=namespace, model_name=model_name).first()
    if model is None:
        raise ValidationError({"model_name": (
            f"There is no model {namespace}/{model_name} in the catalog: register it at "
            "/api/v1/models/ first."
        )})
    return model


def find_version(*, namespace, model_name, model_version):
    catalog_model = find_catalog_model(namespace, model_name)
    version = catalog_model.versions.filter(model_version=model_version).first()
    if version is None:
        raise ValidationError({"model_version": (
            f"{catalog_model} has no version {model_version}."
        )})
    version.catalog_model = catalog_model
    return version


@transaction.atomic
def register_version(*, namespace, model_name, model_version=None, description="",
                     created_by="", create_at=None, artifacts=(), tags=None, user=None):
    """Register the next version of the catalog model `namespace`/`model_name`.

    `model_version` is taken as given when it is free (so that documents from elsewhere
    keep their numbers), else refused as a conflict; by default it is the next number.
    `created_by` is the principal the client names, by default the user's name;
    `artifacts` are links, {"name", "uri"}; `tags` {key: value}.

    The returned version carries its artifacts, tags, aliases (none) and deployments (none),
    so that its document needs no further query.
    """
    # Everything that needs no lock is checked first: the model's counter row stays locked
    # from the number's choice to the commit, and concurrent registrations queue behind it.
    links = _new_links(artifacts, user)
    new_tags = _new_tags(tags or {})
    catalog_model = find_catalog_model(namespace, model_name)
    version = ModelVersion(
        catalog_model=catalog_model,
        model_version=model_version or 1,  # checked here, numbered below
        description=description,
        created_by=created_by or (user.get_username() if user else ""),
        registered_by=user,
    )
    if create_at is not None:
        version.create_at = create_at
    version.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    version.model_version = next_version_number(catalog_model, model_version)
    for row in [*links, *new_tags]:
        row.version = version
    # Three INSERTs and one for the audit trail's records of them all.
    audit.bulk_create([version], links, new_tags)
    new_tags.sort(key=lambda tag: tag.key)
    version._prefetched_objects_cache = {
        "artifacts": links, "tags": new_tags, "aliases": [], "deployments": []}
    # Written whole just now, its relations at hand: the document needs no second read.
    events.emit(events.VERSION_REGISTERED, version, fresh=False)
    return version


def next_version_number(catalog_model, wanted=None):
    """The number of a new version of `catalog_model`: `wanted` if it is free (else a
    ValidationError, a conflict), by default the next one.

    One upsert of the model's VersionCounter row both chooses the number and locks the row
    until the transaction ends, so concurrent registrations of one model queue there and
    get consecutive numbers; registrations of other models do not wait. The highest
    existing number is read too (an index lookup, before any lock is waited for), so that
    versions written without the counter (bulk loads) are never numbered again.
    """
    table = connection.ops.quote_name(VersionCounter._meta.db_table)
    versions = connection.ops.quote_name(ModelVersion._meta.db_table)
    if wanted is None:
        sql = (
            f"INSERT INTO {table} (catalog_model_id, last_number) "
            f"SELECT %s, COALESCE(MAX(model_version), 0) + 1 FROM {versions} "
            "WHERE catalog_model_id = %s "
            "ON CONFLICT (catalog_model_id) DO UPDATE SET last_number = CASE "
            f"WHEN {table}.last_number >= excluded.last_number THEN {table}.last_number + 1 "
            "ELSE excluded.last_number END RETURNING last_number"
        )
        params = [catalog_model.pk, catalog_model.pk]
    else:
        sql = (
            f"INSERT INTO {table} (catalog_model_id, last_number) VALUES (%s, %s) "
            "ON CONFLICT (catalog_model_id) DO UPDATE SET last_number = CASE "
            f"WHEN {table}.last_number >= excluded.last_number THEN {table}.last_number "
            "ELSE excluded.last_number END RETURNING last_number"
        )
        params = [catalog_model.pk, wanted]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        number = cursor.fetchone()[0]
    if wanted is None:
        return number
    # Under the counter's lock: a concurrent registration of the same number has committed.
    if ModelVersion.objects.filter(catalog_model=catalog_model, model_version=wanted).exists():
        raise _duplicate("model_version", (
            f"{catalog_model} already has a version {wanted}; leave model_version out "
            "to get the next number."
        ))
    return wanted


# Rows are built from objects already at hand: no query to check that they exist.
FOREIGN_KEYS_AT_HAND = ["catalog_model", "version", "registered_by"]


def _new_links(documents, user):
    """Unsaved Artifact rows for link documents of a new version, checked."""
    names = [document["name"] for document in documents]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError({"artifacts": f"Listed twice: {', '.join(repeated)}."})
    links = [Artifact(name=document["name"], uri=document["uri"], registered_by=user)
             for document in documents]
    return _checked(links, "artifacts", lambda link: link.name)


def _new_tags(tags):
    rows = [Tag(key=key, value=value) for key, value in tags.items()]
    return _checked(rows, "tags", lambda tag: tag.key)


def _checked(rows, field, name_of):
    """`rows` (unsaved, of a version not yet saved) once each is valid; else every row's
    errors at once, under `field`."""
    errors = []
    for row in rows:
        try:
            row.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
        except ValidationError as exc:
            errors.append(f"{name_of(row)}: {'; '.join(exc.messages)}")
    if errors:
        raise ValidationError({field: errors})
    return rows


def _check_artifact_name(version, name):
    try:
        validate_artifact_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from exc
    if Artifact.objects.filter(version=version, name=name).exists():
        raise _duplicate("name", (
            f"{version} already has an artifact named {name}; artifacts are never replaced."
        ))
    if _uploads_under_way(version, name).exists():
        raise _upload_under_way(version, name)


def _uploads_under_way(version, name):
    return ArtifactUpload.objects.filter(
        version=version, name=name, start_at__gte=timezone.now() - UPLOAD_ABANDONED_AFTER)


def _upload_under_way(version, name):
    return _duplicate("name", f"An upload of {name} to {version} is under way.")


def _reserve_upload(version, name):
    """Hold `name` of `version` for this upload (committed at once, when called outside a
    transaction, so that concurrent uploads see it); a ValidationError (409) if it is taken."""
    try:
        with transaction.atomic():
            ArtifactUpload.objects.filter(
                version=version, name=name,
                start_at__lt=timezone.now() - UPLOAD_ABANDONED_AFTER).delete()
            return ArtifactUpload.objects.create(version=version, name=name)
    except IntegrityError:
        raise _upload_under_way(version, name) from None


def _release_upload(reservation):
    ArtifactUpload.objects.filter(pk=reservation.pk).delete()


@transaction.atomic
def link_artifact(*, version, name, uri, user=None):
    """Record an artifact that already exists elsewhere (s3://, gs://, https://, ...)."""
    _check_artifact_name(version, name)
    artifact = Artifact(version=version, name=name, uri=uri, registered_by=user)
    artifact.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    artifact.save()
    return artifact


def artifact_extension(filename):
    """`.tar.gz` for model.tar.gz, `.onnx` for model.onnx, '' when there is none usable."""
    lowered = (filename or "").lower()
    for compound in COMPOUND_EXTENSIONS:
        if lowered.endswith(compound):
            return compound
    extension = posixpath.splitext(posixpath.basename(lowered.replace("\\", "/")))[1]
    return extension if EXTENSION.match(extension) else ""


def artifact_key(version, name, filename):
    """`<namespace>/<model_name>/<artifact name>/<version><ext>`, the seed's layout."""
    model = version.catalog_model
    return "/".join([
        model.namespace.path.lstrip("/"), model.model_name, name,
        f"{version.model_version}{artifact_extension(filename)}",
    ])


def storage_uri(storage, key):
    """Where a stored artifact lives: s3://bucket/key on S3, mlportal://artifacts/key on the
    local filesystem (served by the artifact's download URL)."""
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        location = getattr(storage, "location", "").strip("/")
        return f"s3://{bucket}/{location + '/' if location else ''}{key}"
    return LOCAL_URI_PREFIX + key


class HashingReader:
    """A read-only, non-seekable view of a file that counts and hashes what is read, chunk by
    chunk. Non-seekable, so that every storage reads it once, front to back."""

    def __init__(self, file):
        self._file = file
        self.size = 0
        self._digest = hashlib.sha256()
        self.closed = False

    def read(self, size=-1):
        chunk = self._file.read(size)
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self.size += len(chunk)
        self._digest.update(chunk)
        return chunk

    def readable(self):
        return True

    def seekable(self):
        return False

    def close(self):
        self.closed = True

    @property
    def sha256(self):
        return self._digest.hexdigest()


STORE_ERRORS = (BotoCoreError, Boto3Error, ClientError, OSError)


def _refusal_code(exc):
    """The S3 error code (NoSuchBucket, AccessDenied, ...) if the store answered, else None."""
    while exc is not None:
        if isinstance(exc, ClientError):
            return exc.response.get("Error", {}).get("Code") or "error"
        exc = exc.__cause__ or exc.__context__
    return None


def _store(storage, key, file):
    reader = HashingReader(file)
    try:
        stored_key = storage.save(key, File(reader, name=key))
    except STORE_ERRORS as exc:
        code = _refusal_code(exc)
        logger.warning("Storing the artifact %s failed: %s", key, code or type(exc).__name__)
        if code:
            message = f"The artifact store refused the file ({code}); nothing was stored."
        else:
            message = "The artifact store is unreachable; nothing was stored, try again later."
        raise ArtifactStoreError(message, unreachable=code is None) from exc
    return stored_key, reader


def _discard(storage, key):
    """Remove an object whose row could not be written, unless a row refers to it."""
    if Artifact.objects.filter(storage_key=key).exists():
        return
    try:
        storage.delete(key)
    except STORE_ERRORS:
        logger.exception("Could not remove the orphaned artifact object %s", key)


def upload_artifact(*, version, name, file, filename=None, user=None):
    """Store `file` as the artifact `name` of `version` and record it with size and sha256.

    Call it outside a transaction: the upload may take minutes, and no database lock is
    held meanwhile. Raises ArtifactStoreError when the storage fails (then nothing is
    recorded) and ValidationError for a bad or taken name; if recording fails after the
    upload, the stored object is removed.
    """
    _check_artifact_name(version, name)
    reservation = _reserve_upload(version, name)
    try:
        if getattr(file, "seekable", lambda: False)():
            file.seek(0)  # read from the start whatever read it before (a form's validation)
        storage = storages["artifacts"]
        key = artifact_key(version, name, filename or getattr(file, "name", ""))
        stored_key, reader = _store(storage, key, file)
        return _record_or_discard(storage, stored_key, reader, version=version, name=name,
                                  user=user, reservation=reservation)
    finally:
        _release_upload(reservation)


def _record_or_discard(storage, stored_key, reader, *, version, name, user, reservation):
    try:
        return _record_upload(
            version=version, name=name, uri=storage_uri(storage, stored_key),
            storage_key=stored_key, size=reader.size, sha256=reader.sha256, user=user,
            reservation=reservation,
        )
    except BaseException:
        _discard(storage, stored_key)
        raise


# The threads that store streamed uploads, kept from one upload to the next: each keeps its
# own connection to the store (boto3's, per thread), made once, not once per upload. More
# uploads at once than threads wait for one (their clients meanwhile wait to send).
_STORING_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="artifact-store")


class StreamedUpload:
    """An artifact upload stored while its request is still being read: the request's thread
    hands the bytes, as they arrive, through a bounded `Pipe` to a thread of its own that
    stores them (on S3, boto3's multipart upload, parts sent concurrently), so a large file
    is neither spooled to a temporary file and read again nor held whole in memory.

    Starting one checks the name and reserves it, as `upload_artifact` does. Then `write`
    each chunk, and `record` the artifact once the request has been read; `close` always
    (in a `finally`): unless recorded, it stops the storing, removes whatever was stored and
    frees the name, so that an interrupted, refused or failed upload leaves nothing behind.
    """

    def __init__(self, *, version, name, filename):
        _check_artifact_name(version, name)
        self.version, self.name = version, name
        self._reservation = _reserve_upload(version, name)
        self._storage = storages["artifacts"]
        self._pipe = Pipe()
        self._reader = HashingReader(self._pipe)
        self._stored_key = self._error = None
        self._recorded = False
        self._storing = _STORING_THREADS.submit(
            self._store, artifact_key(version, name, filename))

    def _store(self, key):
        try:
            self._stored_key, _ = _store(self._storage, key, self._reader)
        except BaseException as exc:  # handed to the request's thread, raised there
            self._error = exc
        finally:
            self._pipe.close_reading()

    def write(self, chunk):
        """Hand on a chunk; waits while the pipe is full. Dropped once the storing failed
        (its error is raised by `record`)."""
        self._pipe.write(chunk)

    def record(self, *, name, user=None):
        """Wait for the storing to end, then record the artifact (as `upload_artifact`)."""
        self._pipe.close()
        self._storing.result()
        if self._error is not None:
            raise self._error
        if name != self.name:  # the form named it twice, differently
            raise ValidationError({"name": "Send the name once, before the file."})
        artifact = _record_or_discard(
            self._storage, self._stored_key, self._reader, version=self.version,
            name=self.name, user=user, reservation=self._reservation)
        self._recorded = True
        return artifact

    def close(self):
        if not self._recorded:
            self._pipe.abort()
            self._storing.result()
            if self._stored_key is not None:
                _discard(self._storage, self._stored_key)
        _release_upload(self._reservation)


class UploadAborted(OSError):
    """The request ended before the file did."""


class Pipe:
    """A file-like pipe of bytes from one thread (write, close, abort) to another (read): at
    most `capacity` chunks wait in it, so a fast writer waits for a slow reader. `read(n)`
    returns n bytes unless the end came first (boto3 reads a stream part by part, and every
    part but the last must be full)."""

    _END, _ABORTED = object(), object()

    def __init__(self, capacity=4):
        self._chunks = queue.Queue(maxsize=capacity)
        self._reader_gone = threading.Event()
        self._pending, self._pending_size = [], 0
        self._ended = False

    # The writing side.

    def write(self, chunk):
        while not self._reader_gone.is_set():
            try:
                self._chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self):
        self.write(self._END)

    def abort(self):
        self.write(self._ABORTED)

    # The reading side.

    def read(self, size=-1):
        while not self._ended and (size < 0 or self._pending_size < size):
            chunk = self._chunks.get()
            if chunk is self._ABORTED:
                raise UploadAborted("The upload ended before the file did.")
            if chunk is self._END:
                self._ended = True
            elif chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
        rest = b""
        if 0 <= size < self._pending_size:  # cut the last chunk only, not the whole part
            last = self._pending[-1]
            cut = len(last) - (self._pending_size - size)
            self._pending[-1], rest = last[:cut], last[cut:]
        data = b"".join(self._pending)
        self._pending, self._pending_size = ([rest], len(rest)) if rest else ([], 0)
        return data

    def close_reading(self):
        """The reader is done (or failed): writes from now on are dropped."""
        self._reader_gone.set()

    def readable(self):
        return True

    def seekable(self):
        return False


@transaction.atomic
def _record_upload(*, version, name, uri, storage_key, size, sha256, user, reservation):
    # The reservation kept other uploads away; a link could still have taken the name (it
    # checks for uploads under way before this one reserved), or, after a day, another
    # upload that took the reservation over.
    if (Artifact.objects.filter(version=version, name=name).exists()
            or not ArtifactUpload.objects.filter(pk=reservation.pk).exists()):
        raise _duplicate("name", (
            f"{version} already has an artifact named {name}; artifacts are never replaced."
        ))
    artifact = Artifact(version=version, name=name, uri=uri, storage_key=storage_key,
                        size=size, sha256=sha256, registered_by=user)
    artifact.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    artifact.save()
    return artifact


def open_artifact(artifact):
    """The stored file of an uploaded artifact, opened for reading."""
    try:
        return storages["artifacts"].open(artifact.storage_key, "rb")
    except STORE_ERRORS as exc:
        raise ArtifactStoreError(
            "The artifact store could not serve the file.", unreachable=True
        ) from exc


def artifact_download_url(artifact):
    """A short-lived presigned URL for an artifact stored on S3; None for local storage."""
    storage = storages["artifacts"]
    if not getattr(storage, "bucket_name", None):
        return None
    try:
        return storage.url(artifact.storage_key)
    except STORE_ERRORS as exc:
        raise ArtifactStoreError(
            "The artifact store could not sign a download URL.", unreachable=True
        ) from exc


def _lock_version(version):
    """The version's row as it is now, locked until the transaction ends: a status read from
    it holds (set_alias and deprecation queue on it)."""
    return ModelVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)


@transaction.atomic
def update_version(*, version, description=None, status=None, tags=None):
    """Change what may change after registration: description, status and tags."""
    stored = _lock_version(version)
    # As stored: the admin hands over a version its form has changed already.
    before = (stored.description, stored.status)
    if description is not None:
        version.description = description
    if status is not None:
        version.status = status
    version.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    version.save()
    if (version.description, version.status) != before:
        events.emit(events.VERSION_DEPRECATED if version.status == VersionStatus.DEPRECATED != before[1] else events.VERSION_CHANGED, version)  # noqa: E501
    if tags is not None:
        set_tags(version=version, tags=tags)
    return version


def deprecate_version(*, version):
    """Mark `version` as no longer to be used; it stays, with its artifacts."""
    return update_version(version=version, status=VersionStatus.DEPRECATED)


@transaction.atomic
def set_tags(*, version, tags):
    """Make `tags` ({key: value}) the tags of `version`."""
    stored = {tag.key: tag for tag in version.tags.all()}
    changed = False
    for tag in _new_tags(tags):
        kept = stored.pop(tag.key, None)
        if kept is None:
            tag.version = version
            tag.save()
            changed = True
        elif kept.value != tag.value:
            kept.value = tag.value
            kept.save()
            changed = True
    for tag in stored.values():
        tag.delete()
        changed = True
    if changed:
        events.emit(events.TAG_CHANGED, version)


@transaction.atomic
def set_alias(*, version, name):
    """Point the alias `name` of the version's model at `version`, moving it if it pointed
    elsewhere. Returns (alias, created).

    The version's row is locked and its status read from it: a deprecation under way
    finishes first (and the alias is refused), or waits for the alias."""
    catalog_model = CatalogModel.objects.select_for_update(of=("self",)).get(
        pk=version.catalog_model_id
    )
    if _lock_version(version).status == VersionStatus.DEPRECATED:
        raise ValidationError({"model_version": (
            f"{version} is deprecated; point {name} at a version in use."
        )})
    alias = Alias.objects.filter(catalog_model=catalog_model, name=name).first()
    created = alias is None
    if created:
        alias = Alias(catalog_model=catalog_model, name=name)
    moved = not created and alias.version_id != version.pk
    alias.version = version
    alias.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    alias.save()
    if created or moved:
        events.emit(events.ALIAS_SET if created else events.ALIAS_MOVED, alias)
    return alias, created


@transaction.atomic
def remove_alias(*, alias):
    events.emit(events.ALIAS_REMOVED, alias)
    alias.delete()


@transaction.atomic
def set_model_tag(*, catalog_model, key, value):
    """Set the tag `key` of the catalog model as a whole to `value` (MLflow's registered-model
    tags). Returns the tag."""
    tag = ModelTag.objects.filter(catalog_model=catalog_model, key=key).first() or ModelTag(
        catalog_model=catalog_model, key=key)
    if tag.pk is not None and tag.value == value:
        return tag
    tag.value = value
    try:
        tag.full_clean(exclude=FOREIGN_KEYS_AT_HAND, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError({"tags": [f"{key}: {'; '.join(exc.messages)}"]}) from exc
    tag.save()
    events.emit(events.TAG_CHANGED, catalog_model)
    return tag


@transaction.atomic
def remove_model_tag(*, tag):
    tag.delete()
    events.emit(events.TAG_CHANGED, tag.catalog_model)
