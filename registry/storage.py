"""The S3 storage of artifacts: files kept as the opaque bytes they were uploaded as."""

import posixpath

from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

OPAQUE = "application/octet-stream"


def download_filename(key):
    """The name a stored artifact downloads as: <artifact name><ext> (trained.tar.gz), from
    its key in the layout <namespace>/<model_name>/<artifact name>/<version><ext>."""
    from registry.services import artifact_extension

    head, filename = posixpath.split(key)
    return posixpath.basename(head) + artifact_extension(filename) if head else filename


class ArtifactS3Storage(S3Storage):
    """django-storages' S3 storage, except that it guesses nothing from the file's name: an
    artifact is stored as application/octet-stream with no Content-Encoding (model.tar.gz
    would otherwise get `gzip`, which browsers and HTTP clients undo while downloading) and
    a Content-Disposition naming the file; presigned URLs ask S3 for the same headers."""

    def get_object_parameters(self, name):
        parameters = super().get_object_parameters(name)
        parameters.pop("ContentEncoding", None)
        return parameters | {
            "ContentType": OPAQUE,
            "ContentDisposition": content_disposition_header(True, download_filename(name)),
        }

    def url(self, name, parameters=None, expire=None, http_method=None):
        if http_method in (None, "GET"):
            parameters = {
                "ResponseContentType": OPAQUE,
                "ResponseContentDisposition": content_disposition_header(
                    True, download_filename(name)),
                **(parameters or {}),
            }
        return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
