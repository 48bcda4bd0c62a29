import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from registry import services
from registry.models import Alias, Artifact, ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(catalog_model):
    version = services.register_version(
        namespace="/abc_corp/claim", model_name="doc_classification",
        created_by="arn:aws:iam::123456789012:user/alice",
        artifacts=[{"name": "static_data", "uri": "s3://abc/static_data/1.tar.gz"}],
        tags={"framework": "sklearn"},
    )
    services.upload_artifact(version=version, name="trained",
                             file=SimpleUploadedFile("model.tar.gz", b"weights"))
    services.set_alias(version=version, name="champion")
    return version


def change_url(version):
    return reverse("admin:registry_modelversion_change", args=[version.pk])


def test_the_change_page_shows_artifacts_read_only_with_a_download_link(admin_client, version):
    page = admin_client.get(change_url(version)).content.decode()

    assert "s3://abc/static_data/1.tar.gz" in page
    assert "mlportal://artifacts/abc_corp/claim/doc_classification/trained/1.tar.gz" in page
    assert hashlib.sha256(b"weights").hexdigest() in page
    download = f"/api/v1/versions/{version.pk}/artifacts/trained/download/"
    assert f'href="{download}"' in page
    assert 'name="artifacts-0-name"' not in page  # shown, not editable
    assert "champion" in page and 'id="upload-artifact"' in page
    assert b"".join(admin_client.get(download).streaming_content) == b"weights"


def test_an_artifact_is_uploaded_from_the_change_page(admin_client, version, local_artifacts):
    url = reverse("admin:registry_modelversion_upload", args=[version.pk])

    response = admin_client.post(url, {
        "name": "tokenizer", "file": SimpleUploadedFile("tok.json", b'{"vocab": []}')},
        follow=True)

    assert "Uploaded tokenizer" in response.content.decode()
    artifact = Artifact.objects.get(name="tokenizer")
    assert artifact.sha256 == hashlib.sha256(b'{"vocab": []}').hexdigest()
    assert (local_artifacts / "abc_corp/claim/doc_classification/tokenizer/1.json").exists()


def test_an_upload_with_a_taken_name_is_refused_with_a_message(admin_client, version):
    url = reverse("admin:registry_modelversion_upload", args=[version.pk])

    response = admin_client.post(url, {
        "name": "trained", "file": SimpleUploadedFile("m.tar.gz", b"other")}, follow=True)

    assert "already has an artifact named trained" in response.content.decode()
    assert Artifact.objects.get(name="trained").size == len(b"weights")


def test_a_reader_cannot_upload_from_the_admin(client, make_user, version):
    client.force_login(make_user("staffreader", staff=True))
    url = reverse("admin:registry_modelversion_upload", args=[version.pk])

    response = client.post(url, {"name": "x", "file": SimpleUploadedFile("m.bin", b"x")})

    assert response.status_code == 403
    assert not Artifact.objects.filter(name="x").exists()


def test_uploading_from_the_admin_needs_a_grant_on_the_versions_namespace(
        client, make_user, grant, version, local_artifacts):
    elsewhere, here = make_user("elsewhere"), make_user("here")
    grant(elsewhere, "/xyz_bank")
    grant(here, "/abc_corp/claim")
    url = reverse("admin:registry_modelversion_upload", args=[version.pk])
    stored = {path for path in local_artifacts.rglob("*") if path.is_file()}

    client.force_login(elsewhere)
    page = client.get(change_url(version)).content.decode()
    refused = client.post(url, {"name": "x", "file": SimpleUploadedFile("m.bin", b"x")})
    assert 'id="upload-artifact"' not in page
    assert refused.status_code == 403
    assert {path for path in local_artifacts.rglob("*") if path.is_file()} == stored

    client.force_login(here)
    assert 'id="upload-artifact"' in client.get(change_url(version)).content.decode()
    client.post(url, {"name": "x", "file": SimpleUploadedFile("m.bin", b"x")})
    assert Artifact.objects.filter(name="x").exists()


def test_an_alias_is_set_from_the_change_page(admin_client, version):
    second = services.register_version(namespace="/abc_corp/claim",
                                       model_name="doc_classification")

    admin_client.post(reverse("admin:registry_modelversion_alias", args=[second.pk]),
                      {"alias": "champion"})

    assert Alias.objects.get(name="champion").version == second


def test_versions_are_found_by_model_name_and_filtered_by_status(admin_client, version):
    changelist = reverse("admin:registry_modelversion_changelist")
    services.register_version(namespace="/abc_corp/claim", model_name="doc_classification")
    services.deprecate_version(version=version)

    found = admin_client.get(changelist + "?q=doc_classification").context["cl"].result_count
    deprecated = admin_client.get(changelist + "?status__exact=deprecated").context["cl"]

    assert found == 2
    assert [str(v) for v in deprecated.result_list] == ["/abc_corp/claim/doc_classification v1"]


def test_the_deprecate_action_asks_first_then_deprecates_and_nothing_deletes(admin_client,
                                                                           version):
    changelist = reverse("admin:registry_modelversion_changelist")

    asked = admin_client.post(changelist, {"action": "deprecate",
                                           "_selected_action": [version.pk]})
    assert ModelVersion.objects.get().status == "ready"
    page = asked.content.decode()
    assert "Deprecate these versions?" in page
    assert "doc_classification v1 is being deprecated but the alias champion still points" in page
    assert "Deprecate anyway" in page

    done = admin_client.post(changelist, {"action": "deprecate", "confirm": "yes",
                                          "_selected_action": [version.pk]}, follow=True)
    assert ModelVersion.objects.get().status == "deprecated"
    messages = [str(message) for message in done.context["messages"]]
    assert "Deprecated 1 version(s)." in messages
    assert ("doc_classification v1 is deprecated but the alias champion still points at it."
            in messages)
    actions = admin_client.get(changelist).context["action_form"].fields["action"].choices
    assert "delete_selected" not in dict(actions)
    delete = reverse("admin:registry_modelversion_delete", args=[version.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.exists()


def test_a_version_is_registered_from_the_add_page(admin_client, version, catalog_model):
    response = admin_client.post(reverse("admin:registry_modelversion_add"), {
        "catalog_model": catalog_model.pk, "model_version": "", "description": "retrained",
        "created_by": "", "create_at_0": "2024-05-01", "create_at_1": "10:00:00",
        "artifacts-TOTAL_FORMS": "0", "artifacts-INITIAL_FORMS": "0",
        "tags-TOTAL_FORMS": "1", "tags-INITIAL_FORMS": "0",
        "tags-0-key": "stage", "tags-0-value": "dev",
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = ModelVersion.objects.get(model_version=2)
    assert created.created_by == "admin" and created.registered_by.username == "admin"
    assert created.tags.get().value == "dev"


def test_the_add_page_refuses_a_taken_number(admin_client, version, catalog_model):
    response = admin_client.post(reverse("admin:registry_modelversion_add"), {
        "catalog_model": catalog_model.pk, "model_version": "1", "description": "",
        "created_by": "", "create_at_0": "2024-05-01", "create_at_1": "10:00:00",
        "artifacts-TOTAL_FORMS": "0", "artifacts-INITIAL_FORMS": "0",
        "tags-TOTAL_FORMS": "0", "tags-INITIAL_FORMS": "0",
    })

    assert response.status_code == 200
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize("name", ["artifact", "alias"])
def test_artifact_and_alias_pages_render(admin_client, version, name):
    model = {"artifact": Artifact, "alias": Alias}[name]
    obj = model.objects.first()

    assert admin_client.get(reverse(f"admin:registry_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:registry_{name}_change", args=[obj.pk])
                            ).status_code == 200


def test_an_alias_is_removed_from_the_admin(admin_client, version):
    alias = Alias.objects.get()

    admin_client.post(reverse("admin:registry_alias_delete", args=[alias.pk]), {"post": "yes"})

    assert not Alias.objects.exists()
    assert ModelVersion.objects.exists()


def test_the_version_changelist_costs_the_same_for_3_or_30_rows(admin_client, catalog_model,
                                                                django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def register(count):
        for _ in range(count):
            version = services.register_version(
                namespace="/abc_corp/claim", model_name="doc_classification",
                artifacts=[{"name": "trained", "uri": "s3://b/k.tar.gz"}])
            services.set_alias(version=version, name="latest")

    url = reverse("admin:registry_modelversion_changelist")
    register(3)
    admin_client.get(url)  # warm the session and content type caches
    with CaptureQueriesContext(connection) as three_rows:
        assert admin_client.get(url).context["cl"].result_count == 3
    register(27)

    with django_assert_max_num_queries(len(three_rows.captured_queries)):
        assert admin_client.get(url).context["cl"].result_count == 30


def _change_form(version, **changes):
    return {"description": version.description, "status": version.status,
            "tags-TOTAL_FORMS": 0, "tags-INITIAL_FORMS": 0,
            "deployments-TOTAL_FORMS": 0, "deployments-INITIAL_FORMS": 0,
            "artifacts-TOTAL_FORMS": 0, "artifacts-INITIAL_FORMS": 0, **changes}


def test_deprecating_a_version_an_alias_names_asks_to_confirm(admin_client, version):
    page = admin_client.get(change_url(version)).content.decode()
    assert "Deprecate anyway" in page

    refused = admin_client.post(change_url(version), _change_form(version, status="deprecated"))

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors["status"]
    assert errors[0] == ("doc_classification v1 is being deprecated but the alias champion "
                         "still points at it.")
    assert ModelVersion.objects.get().status == "ready"

    confirmed = admin_client.post(change_url(version), _change_form(
        version, status="deprecated", confirm_deprecation="on"), follow=True)

    assert ModelVersion.objects.get().status == "deprecated"
    assert any("alias champion still points" in str(message)
               for message in confirmed.context["messages"])


def test_deprecating_a_version_nothing_uses_needs_no_confirmation(admin_client, version):
    unused = services.register_version(namespace="/abc_corp/claim",
                                       model_name="doc_classification")
    assert "Deprecate anyway" not in admin_client.get(change_url(unused)).content.decode()

    admin_client.post(change_url(unused), _change_form(unused, status="deprecated"))

    assert ModelVersion.objects.get(pk=unused.pk).status == "deprecated"
