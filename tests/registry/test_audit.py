import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db

MODEL = {"namespace": "/abc_corp/claim", "model_name": "doc_classification"}


def changes(model_name):
    return ObjectChange.objects.filter(content_type__model=model_name).order_by("id")


def test_uploads_and_alias_moves_are_in_the_audit_trail_with_their_namespace(admin_api,
                                                                             catalog_model):
    first = admin_api.post("/api/v1/versions/", MODEL, format="json").json()
    second = admin_api.post("/api/v1/versions/", MODEL, format="json").json()
    admin_api.post(f"/api/v1/versions/{first['id']}/artifacts/", {
        "name": "trained", "file": SimpleUploadedFile("m.tar.gz", b"weights")},
        format="multipart")
    admin_api.post("/api/v1/aliases/", {**MODEL, "alias": "champion", "model_version": 1},
                   format="json")
    admin_api.post("/api/v1/aliases/", {**MODEL, "alias": "champion", "model_version": 2},
                   format="json")
    admin_api.patch(f"/api/v1/versions/{second['id']}/", {"tags": {"stage": "prod"}},
                    format="json")

    upload = changes("artifact").get()
    assert upload.namespace == "/abc_corp/claim" and upload.user_name == "root"
    assert upload.postchange_data["sha256"] == hashlib.sha256(b"weights").hexdigest()
    moved = changes("alias").last()
    assert moved.action == "update"
    assert (moved.prechange_data["model_version"], moved.postchange_data["model_version"]) == (
        1, 2)
    tag = changes("tag").get()
    assert tag.postchange_data == {"version": "/abc_corp/claim/doc_classification v2",
                                   "key": "stage", "value": "prod"}
    assert changes("modelversion").filter(namespace="/abc_corp/claim").count() == 2
