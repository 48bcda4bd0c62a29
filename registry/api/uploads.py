"""Artifact uploads streamed to the artifact store while the request is read.

Django's own upload handlers spool a large file to a temporary file; the registry then reads
it back into the store: the bytes cross the disk twice and the client waits for both. When
the form names the artifact before its file (as curl -F in that order, requests' `data=`
with `files=` and our documented clients send it), `StreamingArtifactHandler` starts a
`services.StreamedUpload` as the file begins and hands it each chunk as it arrives; the
serializer records the artifact from it. A form that sends the file first is spooled and
stored as before.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import Http404
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers

from mlportal import access
from registry import services
from registry.models import Artifact

# What starting an upload may refuse with; raised again when the serializer records it.
REFUSALS = (ValidationError, PermissionDenied, Http404, exceptions.APIException,
            services.ArtifactStoreError)


class StreamedFile(UploadedFile):
    """The `file` of a form whose bytes went to the store as they arrived: it holds the
    StreamedUpload (or why it could not start), no bytes."""

    def __init__(self, upload, refusal, *, name, content_type, size):
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self._upload, self._refusal = upload, refusal

    def record(self, *, name, user):
        if self._refusal is not None:
            raise self._refusal
        return self._upload.record(name=name, user=user)


class StreamingArtifactHandler(FileUploadHandler):
    """Streams the form's `file` to the store when the form named the artifact before it;
    otherwise leaves the file to the handlers after it (a temporary file). `close()` ends,
    and undoes unless recorded, whatever upload it started."""

    chunk_size = 1024 * 1024

    def __init__(self, request, *, view):
        super().__init__(request)
        self.view = view
        self.fields = None  # the form's fields read so far, set by MultiPartParser
        self.upload = self.refusal = None
        self._streaming = False

    def new_file(self, field_name, file_name, content_type, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        self._streaming = False
        name = self.fields.get("name") if self.fields is not None else None
        if field_name != "file" or name is None or self.upload or self.refusal:
            return
        self._streaming = True
        try:
            version = self.view.get_version()
            # The access rule the serializer's save applies, before any byte is stored.
            access.require_target(self.view.request.user, Artifact, {"version": version})
            self.upload = services.StreamedUpload(version=version, name=name,
                                                  filename=file_name)
        except REFUSALS as exc:
            self.refusal = exc  # the rest of the file is read and dropped
        raise StopFutureHandlers

    def receive_data_chunk(self, raw_data, start):
        if not self._streaming:
            return raw_data
        if self.upload is not None:
            self.upload.write(raw_data)
        return None

    def file_complete(self, file_size):
        if not self._streaming:
            return None
        self._streaming = False
        return StreamedFile(self.upload, self.refusal, name=self.file_name,
                            content_type=self.content_type, size=file_size)

    def close(self):
        if self.upload is not None:
            self.upload.close()


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, except that a StreamingArtifactHandler among the request's
    upload handlers sees the form's fields read before the file begins."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = _FieldsSharingParser(meta, stream, request.upload_handlers,
                                          parser_context.get("encoding", settings.DEFAULT_CHARSET))
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise exceptions.ParseError(f"Multipart form parse error - {exc}") from exc
        return parsers.DataAndFiles(data, files)


class _FieldsSharingParser(DjangoMultiPartParser):
    """Django builds the form's fields in `self._post` as it reads the body, and does not
    tell the upload handlers: the mapping is handed to them as it is made."""

    @property
    def _post(self):
        return self._fields

    @_post.setter
    def _post(self, fields):
        self._fields = fields
        for handler in self._upload_handlers:
            if isinstance(handler, StreamingArtifactHandler):
                handler.fields = fields
