"""Uploads streamed to S3 (moto's server over HTTP) while the request is read: a form that
names the artifact before its file goes to the store part by part, never through a
temporary file; whatever does not end in a recorded artifact leaves nothing behind."""

import hashlib
import socket
import time
import uuid

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token
from registry import services
from registry.models import Artifact, ArtifactUpload

pytestmark = pytest.mark.django_db

PART = 8 * 1024 * 1024  # settings.ARTIFACT_TRANSFER_CONFIG's part size


@pytest.fixture
def version(catalog_model):
    return services.register_version(namespace="/abc_corp/claim",
                                     model_name="doc_classification")


@pytest.fixture
def never_spooled(monkeypatch):
    def spooled(self, *args, **kwargs):
        raise AssertionError("the file went through Django's own upload handlers")

    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        monkeypatch.setattr(handler, "receive_data_chunk", spooled)


def multipart(*parts):
    """A multipart/form-data body of (field, value) and (field, filename, bytes), in order."""
    boundary = uuid.uuid4().hex
    body = b""
    for field, *rest in parts:
        if len(rest) == 1:
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n"
                     f"{rest[0]}\r\n").encode()
        else:
            filename, content = rest
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                     f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n"
                     "\r\n").encode() + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post(client, version, *parts):
    body, content_type = multipart(*parts)
    return client.generic("POST", f"/api/v1/versions/{version.pk}/artifacts/", body,
                          content_type=content_type)


def wait_until(condition, seconds=60):
    """Whether `condition()` came true within `seconds` (a bound, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def bucket_is_empty(client, bucket):
    return (not client.list_objects_v2(Bucket=bucket).get("Contents")
            and not client.list_multipart_uploads(Bucket=bucket).get("Uploads"))


def test_a_file_larger_than_a_part_streams_to_s3_in_parts_intact(admin_api, version, s3,
                                                                   never_spooled):
    client, bucket = s3
    content = hashlib.sha256(b"seed").digest() * (2 * PART // 32) + b"tail-bytes"

    response = post(admin_api, version, ("name", "weights"),
                    ("file", "model.safetensors", content))

    assert response.status_code == 201, response.json()
    document = response.json()
    key = "abc_corp/claim/doc_classification/weights/1.safetensors"
    assert document["uri"] == f"s3://{bucket}/{key}"
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(content)
    assert head["ETag"].endswith('-3"')  # three parts: two full ones and the tail
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == content
    assert ObjectChange.objects.filter(action="create", content_type__model="artifact",
                                       object_id=str(Artifact.objects.get().pk)).exists()
    assert not ArtifactUpload.objects.exists()


def test_a_form_with_the_file_before_the_name_is_spooled_and_stored(admin_api, version, s3):
    client, bucket = s3
    content = b"spooled" * 300_000  # 2 MB: past FILE_UPLOAD_MAX_MEMORY_SIZE, a temporary file

    response = post(admin_api, version, ("file", "model.onnx", content), ("name", "trained"))

    assert response.status_code == 201, response.json()
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    stored = client.get_object(Bucket=bucket, Key=Artifact.objects.get().storage_key)
    assert stored["Body"].read() == content


def test_a_taken_name_is_refused_before_anything_is_stored(admin_api, version, s3):
    client, bucket = s3
    services.link_artifact(version=version, name="trained", uri="s3://elsewhere/model")

    response = post(admin_api, version, ("name", "trained"),
                    ("file", "model.tar.gz", b"x" * (PART + 1)))

    assert response.status_code == 409
    assert "never replaced" in response.json()["name"][0]
    assert Artifact.objects.get().uri == "s3://elsewhere/model"
    assert bucket_is_empty(client, bucket)
    assert not ArtifactUpload.objects.exists()


def test_a_name_sent_again_after_the_file_differently_stores_nothing(admin_api, version, s3):
    client, bucket = s3

    response = post(admin_api, version, ("name", "trained"),
                    ("file", "model.tar.gz", b"x" * (PART + 1)), ("name", "other"))

    assert response.status_code == 400
    assert response.json()["name"] == ["Send the name once, before the file."]
    assert not Artifact.objects.exists()
    assert bucket_is_empty(client, bucket)
    assert not ArtifactUpload.objects.exists()


def test_an_empty_file_is_refused_and_its_object_removed(admin_api, version, s3):
    client, bucket = s3

    response = post(admin_api, version, ("name", "trained"), ("file", "model.tar.gz", b""))

    assert response.status_code == 400
    assert "file" in response.json()
    assert bucket_is_empty(client, bucket)
    assert not ArtifactUpload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_gone_mid_file_leaves_no_object_no_row_and_frees_the_name(
        live_server, s3, catalog_model, superuser):
    client, bucket = s3
    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
    key = save_new_token(Token(user=superuser))
    body, content_type = multipart(("name", "trained"),
                                   ("file", "model.tar.gz", b"y" * (3 * PART)))
    sent = body[:2 * PART + 12345]  # two parts and some on their way, then the client is gone

    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST /api/v1/versions/{version.pk}/artifacts/ HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Token {key}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + sent)
        assert wait_until(ArtifactUpload.objects.exists)  # the upload is under way

    # The server notices when it reads on: wait until it has finished with the request.
    assert wait_until(lambda: not ArtifactUpload.objects.exists())
    assert not Artifact.objects.exists()
    assert bucket_is_empty(client, bucket)
