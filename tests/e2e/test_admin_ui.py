"""Model owners in the admin, in a real browser at desktop and phone widths: what they see."""


import pytest

from catalog.services import save_catalog_model
from registry import services as registry
from registry.models import Artifact
from tests.e2e.conftest import assert_no_sideways_scroll, assert_seen, sign_in_admin

pytestmark = pytest.mark.django_db(transaction=True)

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"


@pytest.fixture(autouse=True)
def local_artifacts(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None},
    }}


@pytest.fixture
def owner(make_user, grant):
    user = make_user("owner", staff=True)
    grant(user, "/abc_corp", "owner")
    return user


@pytest.fixture
def version(example, owner):
    save_catalog_model(**example("catalog_model"))
    document = example("model_version")
    document["artifacts"][0]["uri"] = (
        "s3://abc_corp/claim/doc_classification/a/very/long/key/that/would/widen/the/page/"
        "unless/it/wraps/inside/its/cell/trained/1.tar.gz")
    return registry.register_version(**document, user=owner)


def test_an_owner_sees_and_uses_the_upload_form(screen, version, tmp_path):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    assert_no_sideways_scroll(page)

    name = page.locator("#upload-artifact input[name=name]")
    file = page.locator("#upload-artifact input[name=file]")
    assert_seen(page.locator("#upload-artifact-heading"))
    assert_seen(name)
    assert_seen(file)
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"weights")
    name.fill("weights")
    file.set_input_files(str(artifact))
    page.locator("#upload-artifact input[type=submit]").click()
    page.wait_for_load_state()

    message = page.locator("ul.messagelist li.success")
    assert_seen(message)
    assert "Uploaded weights (7 bytes" in message.inner_text()
    assert Artifact.objects.filter(version=version, name="weights", size=7).exists()
    assert_no_sideways_scroll(page)


def test_the_artifact_table_stays_inside_the_page(screen, version):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    assert_no_sideways_scroll(page)
    uri = page.locator("#artifacts-group td.field-uri").first
    assert "widen/the/page" in uri.inner_text()
    box = uri.bounding_box()
    group = page.locator("#artifacts-group").bounding_box()
    # The cell wraps inside the table's box (which scrolls by itself on a phone).
    assert box["x"] >= group["x"]


def test_tag_fields_are_labelled(screen, version):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    key = page.get_by_label("Tag key").first
    value = page.get_by_label("Tag value").first
    assert_seen(key)
    assert_seen(value)
    key.fill("framework")
    value.fill("sklearn")
    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()
    assert version.tags.get(key="framework").value == "sklearn"


def test_the_versions_list_says_when_and_by_whom_each_was_registered(screen, version):
    page = screen
    sign_in_admin(page, "owner", "/admin/registry/modelversion/")
    cell = page.locator("#result_list td.field-registered").first
    assert_seen(cell)
    assert "Jan. 1, 2023" in cell.inner_text()
    assert "by owner" in cell.inner_text()
