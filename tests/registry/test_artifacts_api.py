"""Uploading, linking and downloading artifacts on local storage (S3: test_artifacts_s3.py)."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry import services
from registry.models import Artifact

pytestmark = pytest.mark.django_db

MODEL_BYTES = b"\x1f\x8b pretend this is a trained model " * 1000


@pytest.fixture
def version(catalog_model):
    return services.register_version(namespace="/abc_corp/claim",
                                     model_name="doc_classification")


def artifacts_url(version):
    return f"/api/v1/versions/{version.pk}/artifacts/"


def upload(client, version, name="trained", content=MODEL_BYTES, filename="model.tar.gz"):
    return client.post(artifacts_url(version), {
        "name": name, "file": SimpleUploadedFile(filename, content)}, format="multipart")


def test_an_upload_is_stored_at_the_layout_key_with_size_and_sha256(admin_api, version,
                                                                   local_artifacts):
    response = upload(admin_api, version)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "trained"
    assert body["uri"] == "mlportal://artifacts/abc_corp/claim/doc_classification/trained/1.tar.gz"
    assert body["size"] == len(MODEL_BYTES)
    assert body["sha256"] == hashlib.sha256(MODEL_BYTES).hexdigest()
    assert body["stored"] is True
    assert body["download_url"] == (
        f"http://testserver/api/v1/versions/{version.pk}/artifacts/trained/download/")
    stored = local_artifacts / "abc_corp/claim/doc_classification/trained/1.tar.gz"
    assert stored.read_bytes() == MODEL_BYTES


def test_the_upload_is_listed_with_the_version(admin_api, version):
    upload(admin_api, version)

    document = admin_api.get(f"/api/v1/versions/{version.pk}/").json()

    assert document["artifacts"] == [{
        "name": "trained",
        "uri": "mlportal://artifacts/abc_corp/claim/doc_classification/trained/1.tar.gz",
        "size": len(MODEL_BYTES), "sha256": hashlib.sha256(MODEL_BYTES).hexdigest()}]


def test_download_streams_the_stored_file(reader_api, admin_api, version):
    upload(admin_api, version)

    response = reader_api.get(artifacts_url(version) + "trained/download/")

    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == MODEL_BYTES
    assert 'filename="trained.tar.gz"' in response["Content-Disposition"]


def test_an_extension_that_is_not_one_is_left_out(admin_api, version, local_artifacts):
    response = upload(admin_api, version, filename="weights.a/../b?c")

    assert response.status_code == 201
    assert response.json()["uri"].endswith("/trained/1")


def test_a_link_is_recorded_as_given(admin_api, version):
    response = admin_api.post(artifacts_url(version), {
        "name": "static_data", "uri": "gs://abc/claim/static_data/1.tar.gz"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["uri"] == "gs://abc/claim/static_data/1.tar.gz"
    assert response.json()["size"] is None and response.json()["download_url"] is None


def test_a_link_cannot_be_downloaded_through_the_portal(admin_api, version):
    services.link_artifact(version=version, name="trained", uri="s3://abc/trained/1.tar.gz")

    response = admin_api.get(artifacts_url(version) + "trained/download/")

    assert response.status_code == 404
    assert "s3://abc/trained/1.tar.gz" in response.json()["detail"]


def test_the_same_name_again_is_a_conflict_and_the_first_stays(admin_api, version,
                                                               local_artifacts):
    upload(admin_api, version)

    again = upload(admin_api, version, content=b"other bytes")
    linked = admin_api.post(artifacts_url(version), {"name": "trained", "uri": "s3://b/k"},
                            format="json")

    assert again.status_code == 409 and linked.status_code == 409
    assert "never replaced" in again.json()["name"][0]
    assert Artifact.objects.get().size == len(MODEL_BYTES)
    assert [path.name for path in local_artifacts.rglob("*") if path.is_file()] == ["1.tar.gz"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a b", "x" * 101, "naïve", "a\x00"])
def test_a_bad_artifact_name_is_a_400(admin_api, version, local_artifacts, name):
    response = upload(admin_api, version, name=name)

    assert response.status_code == 400, response.json()
    assert "name" in response.json()
    assert not Artifact.objects.exists()
    assert not local_artifacts.exists() or not any(local_artifacts.rglob("*"))


def test_a_file_and_a_uri_together_or_neither_is_a_400(admin_api, version):
    both = admin_api.post(artifacts_url(version), {
        "name": "trained", "uri": "s3://b/k", "file": SimpleUploadedFile("m.bin", b"x")},
        format="multipart")
    neither = admin_api.post(artifacts_url(version), {"name": "trained"}, format="json")

    assert both.status_code == 400 and neither.status_code == 400
    assert "file" in both.json() and "file" in neither.json()


def test_artifacts_are_never_changed_or_removed(admin_api, version):
    upload(admin_api, version)
    url = artifacts_url(version) + "trained/"

    assert admin_api.delete(url).status_code == 405
    assert admin_api.put(url, {"name": "trained", "uri": "s3://b/k"}, format="json"
                         ).status_code == 405
    assert admin_api.get(url).json()["name"] == "trained"


def test_an_unknown_version_or_artifact_is_a_404(admin_api, version):
    assert admin_api.get("/api/v1/versions/999/artifacts/").status_code == 404
    assert upload(admin_api, type(version)(pk=999)).status_code == 404
    assert admin_api.get(artifacts_url(version) + "nothing/").status_code == 404
    assert admin_api.get(artifacts_url(version) + "nothing/download/").status_code == 404


def test_anonymous_requests_get_401(api, admin_api, version):
    upload(admin_api, version)

    assert api.get(artifacts_url(version)).status_code == 401
    assert upload(api, version, name="other").status_code == 401
    assert api.get(artifacts_url(version) + "trained/download/").status_code == 401


def test_a_reader_lists_and_downloads_but_cannot_upload(reader_api, version, local_artifacts):
    assert reader_api.get(artifacts_url(version)).status_code == 200

    response = upload(reader_api, version)

    assert response.status_code == 403
    assert not Artifact.objects.exists()
    assert not local_artifacts.exists() or not any(local_artifacts.rglob("*"))


def test_adding_artifacts_needs_the_artifact_permission(client_for, make_user, version):
    registrar = make_user("registrar", perms=["registry.add_modelversion"])
    uploader = make_user("uploader", perms=["registry.add_artifact"])

    assert upload(client_for(registrar), version).status_code == 403
    assert upload(client_for(uploader), version).status_code == 201


def test_artifact_list_filters_and_costs_the_same_for_any_page(admin_api, version,
                                                               django_assert_max_num_queries):
    upload(admin_api, version)
    for index in range(20):
        services.link_artifact(version=version, name=f"part{index}", uri=f"s3://b/{index}")

    with django_assert_max_num_queries(8) as small:
        assert len(admin_api.get(artifacts_url(version) + "?page_size=2").json()["results"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert admin_api.get(artifacts_url(version) + "?page_size=30").json()["count"] == 21
    stored = admin_api.get(artifacts_url(version) + "?stored=true").json()["results"]
    assert [artifact["name"] for artifact in stored] == ["trained"]


def test_upload_reads_the_file_in_chunks_never_whole(version, local_artifacts):
    class ChunkOnlyFile:
        """Refuses to be read whole, and remembers the largest read."""

        name = "model.bin"

        def __init__(self, size):
            self.left, self.largest = size, 0

        def read(self, size=-1):
            assert size is not None and 0 < size <= 8 * 1024 * 1024, f"read({size})"
            self.largest = max(self.largest, size)
            chunk = b"x" * min(size, self.left)
            self.left -= len(chunk)
            return chunk

    source = ChunkOnlyFile(3 * 1024 * 1024)

    artifact = services.upload_artifact(version=version, name="big", file=source)

    assert artifact.size == 3 * 1024 * 1024
    assert artifact.sha256 == hashlib.sha256(b"x" * 3 * 1024 * 1024).hexdigest()
    assert source.largest <= 8 * 1024 * 1024


def test_a_failing_local_store_is_a_503_and_records_nothing(admin_api, version, local_artifacts):
    local_artifacts.parent.mkdir(parents=True, exist_ok=True)
    local_artifacts.write_text("a file where the artifacts directory should be")

    response = upload(admin_api, version)

    assert response.status_code == 503
    assert "nothing was stored" in response.json()["detail"]
    assert not Artifact.objects.exists()


def test_an_upload_above_1_mb_is_spooled_to_a_temporary_file_not_memory(rf):
    from django.core.files.uploadedfile import TemporaryUploadedFile

    request = rf.post("/api/v1/versions/1/artifacts/", {
        "name": "trained", "file": SimpleUploadedFile("m.bin", b"x" * (1024 * 1024 + 1))})

    assert isinstance(request.FILES["file"], TemporaryUploadedFile)


def test_a_3_mb_upload_through_the_api_is_stored_whole(admin_api, version, local_artifacts):
    content = bytes(range(256)) * (3 * 4096)

    response = upload(admin_api, version, content=content, filename="weights.bin")

    assert response.status_code == 201
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    stored = local_artifacts / "abc_corp/claim/doc_classification/trained/1.bin"
    assert stored.read_bytes() == content
