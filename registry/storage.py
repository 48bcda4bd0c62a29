"""The S3 storage of artifacts: files kept as the opaque bytes they were uploaded as."""

import posixpath

from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

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

    def make_opaque(self, name):
        """Give an object stored before (with headers guessed from its name) the headers it
        is stored with now, in place (a copy onto itself: in parts when large; the bytes do
        not change). Returns whether it had to."""
        key = self._normalize_name(clean_name(name))
        client = self.connection.meta.client
        head = client.head_object(Bucket=self.bucket_name, Key=key)
        wanted = self.get_object_parameters(name)
        if "ContentEncoding" not in head and all(
                head.get(header) == wanted[header]
                for header in ("ContentType", "ContentDisposition")):
            return False
        client.copy(
            {"Bucket": self.bucket_name, "Key": key}, self.bucket_name, key,
            ExtraArgs={**wanted, "Metadata": head.get("Metadata", {}),
                       "MetadataDirective": "REPLACE"},
            Config=self.transfer_config,
        )
        return True
