"""Artifacts on S3, against moto's standalone server over HTTP (no patching of boto3)."""

import hashlib
import socket
import urllib.request

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from registry import services
from registry.models import Artifact, ArtifactUpload
from tests.helpers import s3_storage_settings

pytestmark = pytest.mark.django_db

KEY = "abc_corp/claim/doc_classification/trained/1.tar.gz"
MODEL_BYTES = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def version(catalog_model):
    return services.register_version(namespace="/abc_corp/claim",
                                     model_name="doc_classification")


def upload(client, version, name="trained", content=MODEL_BYTES, filename="model.tar.gz"):
    return client.post(f"/api/v1/versions/{version.pk}/artifacts/", {
        "name": name, "file": SimpleUploadedFile(filename, content)}, format="multipart")


def stored_keys(client, bucket):
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_an_upload_is_stored_in_the_bucket_at_the_layout_key(admin_api, version, s3):
    client, bucket = s3

    response = upload(admin_api, version)

    assert response.status_code == 201, response.json()
    assert response.json()["uri"] == f"s3://{bucket}/{KEY}"
    assert response.json()["size"] == len(MODEL_BYTES)
    assert response.json()["sha256"] == hashlib.sha256(MODEL_BYTES).hexdigest()
    assert stored_keys(client, bucket) == [KEY]
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == MODEL_BYTES


def test_a_large_upload_goes_up_in_parts_with_the_right_digest(version, s3):
    client, bucket = s3
    content = b"0123456789abcdef" * (1024 * 1024)  # 16 MiB: above boto3's multipart threshold

    class ChunkOnlyFile:
        name = "weights.safetensors"

        def __init__(self):
            self.offset = 0

        def read(self, size=-1):
            assert 0 < size <= 8 * 1024 * 1024, f"read({size}) of the whole file"
            chunk = content[self.offset:self.offset + size]
            self.offset += len(chunk)
            return chunk

    artifact = services.upload_artifact(version=version, name="weights", file=ChunkOnlyFile())

    key = "abc_corp/claim/doc_classification/weights/1.safetensors"
    assert artifact.uri == f"s3://{bucket}/{key}"
    assert artifact.sha256 == hashlib.sha256(content).hexdigest()
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(content)
    assert "-" in client.head_object(Bucket=bucket, Key=key)["ETag"]  # a multipart upload


def test_download_redirects_to_a_presigned_url_that_serves_the_bytes(reader_api, admin_api,
                                                                     version, s3):
    _, bucket = s3
    upload(admin_api, version)

    response = reader_api.get(f"/api/v1/versions/{version.pk}/artifacts/trained/download/")

    assert response.status_code == 302
    url = response["Location"]
    assert f"/{bucket}/{KEY}" in url and "Signature" in url and "Expires=" in url
    with urllib.request.urlopen(url, timeout=10) as presigned:
        assert presigned.read() == MODEL_BYTES


def test_an_existing_object_at_the_key_is_never_overwritten(admin_api, version, s3):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key=KEY, Body=b"somebody else's object")

    response = upload(admin_api, version)

    assert response.status_code == 201
    assert response.json()["uri"] != f"s3://{bucket}/{KEY}"
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"somebody else's object"
    assert len(stored_keys(client, bucket)) == 2


def test_a_missing_bucket_is_a_502_and_records_nothing(admin_api, version, s3, settings,
                                                       moto_endpoint):
    settings.STORAGES = {**settings.STORAGES, "artifacts": s3_storage_settings(
        moto_endpoint, "no-such-bucket")}

    response = upload(admin_api, version)

    assert response.status_code == 502
    assert response.json()["detail"] == (
        "The artifact store refused the file (NoSuchBucket); nothing was stored.")
    assert not Artifact.objects.exists()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_store_is_a_503_and_records_nothing(admin_api, version, s3, settings):
    client, bucket = s3
    closed = f"http://127.0.0.1:{free_port()}"
    settings.STORAGES = {**settings.STORAGES, "artifacts": s3_storage_settings(
        closed, bucket, client_config=botocore_config(retries={"max_attempts": 1}))}

    response = upload(admin_api, version)

    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    assert "testing" not in response.content.decode()
    assert not Artifact.objects.exists()
    assert stored_keys(client, bucket) == []


def botocore_config(**options):
    from botocore.config import Config

    return Config(**options)


@pytest.mark.django_db(transaction=True)
@pytest.mark.django_db(transaction=True)
def test_a_link_under_the_name_of_an_upload_under_way_is_refused(version, s3):
    client, bucket = s3
    refusals = []

    class RacedFile:
        name = "model.tar.gz"

        def __init__(self):
            self.sent = False

        def read(self, size=-1):
            if self.sent:
                return b""
            self.sent = True
            # boto3 reads in a thread of its own: the other client has its own connection.
            try:
                services.link_artifact(version=version, name="trained", uri="s3://other/late")
            except services.ValidationError as exc:
                refusals.append(exc)
            finally:
                connection.close()
            return MODEL_BYTES

    artifact = services.upload_artifact(version=version, name="trained", file=RacedFile())

    assert [exc.error_dict["name"][0].code for exc in refusals] == ["unique"]
    assert "under way" in refusals[0].error_dict["name"][0].message
    assert Artifact.objects.get() == artifact
    assert stored_keys(client, bucket) == [KEY]


def test_when_the_row_cannot_be_written_the_stored_object_is_removed(version, s3,
                                                                      monkeypatch):
    """Another client linked the name just before our upload reserved it: we lose."""
    client, bucket = s3
    reserve = services._reserve_upload

    def linked_first(version, name):
        services.link_artifact(version=version, name=name, uri="s3://other/winner")
        return reserve(version, name)

    monkeypatch.setattr(services, "_reserve_upload", linked_first)

    with pytest.raises(services.ValidationError) as refused:
        services.upload_artifact(version=version, name="trained",
                                 file=SimpleUploadedFile("model.tar.gz", MODEL_BYTES))

    assert refused.value.error_dict["name"][0].code == "unique"
    assert Artifact.objects.get().uri == "s3://other/winner"
    assert stored_keys(client, bucket) == []
    assert not ArtifactUpload.objects.exists()


def test_a_database_failure_after_the_upload_removes_the_object(admin_api, version, s3,
                                                                monkeypatch):
    from django.db import IntegrityError

    client, bucket = s3

    def failing_insert(**fields):
        raise IntegrityError("simulated failure of the artifact insert")

    monkeypatch.setattr(services, "_record_upload", failing_insert)

    response = upload(admin_api, version)

    assert response.status_code == 409
    assert not Artifact.objects.exists()
    assert stored_keys(client, bucket) == []


def tar_gz():
    """A real .tar.gz, as training jobs write them."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"weights " * 10000
        member = tarfile.TarInfo("model/weights.bin")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def test_a_tar_gz_comes_back_byte_for_byte_through_a_client_that_decodes(
        admin_api, reader_api, version, s3):
    import requests

    client, bucket = s3
    archive = tar_gz()
    assert upload(admin_api, version, content=archive).status_code == 201

    # Stored as opaque bytes: no content encoding for clients to undo.
    head = client.head_object(Bucket=bucket, Key=KEY)
    assert head["ContentType"] == "application/octet-stream"
    assert "ContentEncoding" not in head
    assert head["ContentDisposition"] == 'attachment; filename="trained.tar.gz"'

    url = reader_api.get(
        f"/api/v1/versions/{version.pk}/artifacts/trained/download/")["Location"]
    # requests undoes a Content-Encoding (gzip) as it reads, as browsers do.
    downloaded = requests.get(url, timeout=10)
    assert downloaded.status_code == 200
    assert "Content-Encoding" not in downloaded.headers
    assert downloaded.headers["Content-Disposition"] == 'attachment; filename="trained.tar.gz"'
    assert downloaded.content == archive
    assert hashlib.sha256(downloaded.content).hexdigest() == hashlib.sha256(archive).hexdigest()


def test_artifacts_stored_with_a_guessed_encoding_are_made_opaque_by_the_command(version, s3):
    import io

    from django.core.management import call_command

    client, bucket = s3
    archive = tar_gz()
    # As django-storages stored it before: type and encoding guessed from the name.
    client.put_object(Bucket=bucket, Key=KEY, Body=archive, ContentType="application/x-tar",
                      ContentEncoding="gzip")
    Artifact.objects.create(version=version, name="trained", uri=f"s3://{bucket}/{KEY}",
                            storage_key=KEY, size=len(archive),
                            sha256=hashlib.sha256(archive).hexdigest())
    output = io.StringIO()

    call_command("make_artifacts_opaque", stdout=output)
    call_command("make_artifacts_opaque", stdout=output)  # again: nothing left to do

    head = client.head_object(Bucket=bucket, Key=KEY)
    assert head["ContentType"] == "application/octet-stream"
    assert "ContentEncoding" not in head
    assert head["ContentDisposition"] == 'attachment; filename="trained.tar.gz"'
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].read() == archive
    assert "1 of 1 stored artifacts rewritten." in output.getvalue()
    assert output.getvalue().endswith("0 of 1 stored artifacts rewritten.\n")
