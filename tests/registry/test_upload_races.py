"""Concurrent uploads under one artifact name, as real HTTP requests to a live server that
stores on S3 (moto's server over HTTP): one wins, the others get 409 before they touch the
store, and what is stored is the winner's file."""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mlportal.models import Token
from mlportal.services import save_new_token
from registry import services
from registry.models import Artifact, ArtifactUpload

pytestmark = pytest.mark.django_db(transaction=True)


def upload_at_once(url, key, contents):
    start = threading.Barrier(len(contents))

    def upload(content):
        start.wait(timeout=30)
        response = requests.post(
            url, headers={"Authorization": f"Token {key}"}, timeout=60,
            data={"name": "model"}, files={"file": ("model.tar.gz", content)},
        )
        return response.status_code, content

    with ThreadPoolExecutor(max_workers=len(contents)) as pool:
        return list(pool.map(upload, contents))


def test_concurrent_uploads_under_one_name_store_the_winners_file(live_server, s3,
                                                                   catalog_model, superuser):
    client, bucket = s3
    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
    key = save_new_token(Token(user=superuser))
    # Different files, each large enough to stream for a while.
    contents = [bytes([index]) * (3 * 1024 * 1024) + bytes(range(256)) for index in range(6)]

    results = upload_at_once(
        f"{live_server.url}/api/v1/versions/{version.pk}/artifacts/", key, contents)

    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 5, codes
    winner = next(content for code, content in results if code == 201)
    artifact = Artifact.objects.get(version=version, name="model")
    assert artifact.sha256 == hashlib.sha256(winner).hexdigest()
    stored = client.get_object(Bucket=bucket, Key=artifact.storage_key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == artifact.sha256
    # Nothing else was left in the bucket by the refused uploads.
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == [artifact.storage_key]
    assert not ArtifactUpload.objects.exists()  # the reservations went with their uploads
