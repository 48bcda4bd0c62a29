import uuid

import pytest
from moto.server import ThreadedMotoServer

from catalog.services import save_catalog_model
from tests.helpers import s3_client, s3_storage_settings


@pytest.fixture(autouse=True)
def local_artifacts(settings, tmp_path):
    """Artifacts on the filesystem, in a directory of the test's own."""
    location = tmp_path / "artifacts"
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": location, "base_url": None},
    }}
    return location


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's standalone S3 server on a free loopback port, spoken to over HTTP."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_endpoint, local_artifacts):
    """Artifact storage switched to S3 (moto over HTTP), with a fresh bucket. Returns a boto3
    client and the bucket name, to look at what was stored."""
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    client = s3_client(moto_endpoint)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES,
                         "artifacts": s3_storage_settings(moto_endpoint, bucket)}
    return client, bucket


@pytest.fixture
def catalog_model():
    return save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification",
                              owner="alice@example.com")
