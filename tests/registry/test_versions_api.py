import pytest

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from mlportal.models import ObjectChange
from registry import services
from registry.models import Artifact, ModelVersion

pytestmark = pytest.mark.django_db

VERSIONS = "/api/v1/versions/"
SERVER_FIELDS = {"id", "status", "tags", "aliases", "registered_by", "deployments", "serving",
                 "warnings", "update_at"}


def without_server_fields(document):
    return {key: value for key, value in document.items() if key not in SERVER_FIELDS}


def register(number=None, *, model=("/abc_corp/claim", "doc_classification"), **fields):
    return services.register_version(namespace=model[0], model_name=model[1],
                                     model_version=number, **fields)


def test_posting_the_example_document_returns_it_as_it_is(admin_api, example, catalog_model):
    document = example("model_version")

    created = admin_api.post(VERSIONS, document, format="json")

    assert created.status_code == 201, created.json()
    assert without_server_fields(created.json()) == document
    fetched = admin_api.get(f"{VERSIONS}{created.json()['id']}/").json()
    assert without_server_fields(fetched) == document
    assert fetched["status"] == "ready"
    assert fetched["registered_by"] == "root"
    assert fetched["tags"] == {} and fetched["aliases"] == []
    artifacts = Artifact.objects.filter(version_id=fetched["id"])
    assert sorted(artifacts.values_list("name", flat=True)) == ["static_data", "trained"]
    assert not any(artifact.is_stored for artifact in artifacts)


def test_registering_assigns_the_next_version(admin_api, example, catalog_model):
    document = example("model_version")
    del document["model_version"]

    numbers = [admin_api.post(VERSIONS, document, format="json").json()["model_version"]
               for _ in range(3)]

    assert numbers == [1, 2, 3]


def test_numbers_continue_after_a_number_the_client_chose(admin_api, catalog_model):
    register(7)

    response = admin_api.post(VERSIONS, {"namespace": "/abc_corp/claim",
                                         "model_name": "doc_classification"}, format="json")

    assert response.json()["model_version"] == 8


def test_each_model_has_its_own_numbers(admin_api, catalog_model):
    save_catalog_model(namespace="/abc_corp/claim", model_name="fraud_scoring")
    register()
    register()

    response = admin_api.post(VERSIONS, {"namespace": "/abc_corp/claim",
                                         "model_name": "fraud_scoring"}, format="json")

    assert response.json()["model_version"] == 1


def test_a_version_number_that_is_taken_is_a_conflict(admin_api, example, catalog_model):
    admin_api.post(VERSIONS, example("model_version"), format="json")

    response = admin_api.post(VERSIONS, example("model_version"), format="json")

    assert response.status_code == 409
    assert "already has a version 1" in response.json()["model_version"][0]
    assert ModelVersion.objects.count() == 1


def test_a_version_of_a_model_not_in_the_catalog_is_a_400_naming_it(admin_api, example):
    response = admin_api.post(VERSIONS, example("model_version"), format="json")

    assert response.status_code == 400
    assert "/abc_corp/claim/doc_classification" in response.json()["model_name"][0]
    assert not ModelVersion.objects.exists()


def test_created_by_defaults_to_the_user_and_the_user_is_kept(admin_api, catalog_model):
    response = admin_api.post(VERSIONS, {"namespace": "/abc_corp/claim",
                                         "model_name": "doc_classification"}, format="json")

    assert response.json()["created_by"] == "root"
    assert response.json()["registered_by"] == "root"
    assert response.json()["create_at"].endswith("Z")


def test_the_named_principal_is_the_audit_principal(admin_api, example, catalog_model):
    version_id = admin_api.post(VERSIONS, example("model_version"), format="json").json()["id"]

    change = ObjectChange.objects.get(object_id=str(version_id), action="create",
                                      content_type__model="modelversion")
    assert change.principal == "arn:aws:iam::123456789012:user/alice"
    assert change.user_name == "root"
    assert change.postchange_data["model"] == "/abc_corp/claim/doc_classification"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("namespace", "abc_corp/claim"),
        ("model_name", "has space"),
        ("model_version", 0),
        ("model_version", "one"),
        ("create_at", "yesterday"),
        ("created_by", "x" * 256),
        ("status", "deprecated"),
        ("artifacts", "s3://bucket/key"),
        ("artifacts", [{"name": "trained"}]),
        ("artifacts", [{"name": "..", "uri": "s3://bucket/key"}]),
        ("artifacts", [{"name": "trained", "uri": "file:///etc/passwd"}]),
        ("artifacts", [{"name": "a", "uri": "s3://b/k"}, {"name": "a", "uri": "s3://b/l"}]),
        ("tags", ["framework"]),
        ("tags", {"bad key": "x"}),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(admin_api, example, catalog_model, field, value):
    document = example("model_version") | {field: value}

    response = admin_api.post(VERSIONS, document, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not ModelVersion.objects.exists()
    assert not Artifact.objects.exists()


def test_anonymous_requests_get_401(api, catalog_model, example):
    version = register()
    assert api.get(VERSIONS).status_code == 401
    assert api.get(f"{VERSIONS}{version.pk}/").status_code == 401
    assert api.post(VERSIONS, example("model_version"), format="json").status_code == 401
    assert api.post(f"{VERSIONS}{version.pk}/deprecate/").status_code == 401


def test_a_reader_reads_but_cannot_register_or_change(reader_api, catalog_model, example):
    version = register()

    assert reader_api.get(VERSIONS).status_code == 200
    assert reader_api.post(VERSIONS, example("model_version"), format="json").status_code == 403
    assert reader_api.patch(f"{VERSIONS}{version.pk}/", {"description": "x"},
                            format="json").status_code == 403
    assert reader_api.post(f"{VERSIONS}{version.pk}/deprecate/").status_code == 403
    assert ModelVersion.objects.get().status == "ready"


def test_an_editor_of_the_namespace_registers(client_for, make_user, grant, catalog_model,
                                              example):
    pipeline = make_user("pipeline")
    grant(pipeline, "/abc_corp")

    response = client_for(pipeline).post(VERSIONS, example("model_version"), format="json")

    assert response.status_code == 201
    assert response.json()["registered_by"] == "pipeline"


def test_a_read_only_token_cannot_register(client_for, superuser, catalog_model, example):
    client = client_for(superuser, write_enabled=False)

    response = client.post(VERSIONS, example("model_version"), format="json")

    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_a_version_cannot_be_deleted_but_can_be_deprecated(admin_api, catalog_model):
    version = register()

    assert admin_api.delete(f"{VERSIONS}{version.pk}/").status_code == 405
    response = admin_api.post(f"{VERSIONS}{version.pk}/deprecate/")

    assert response.status_code == 200
    assert response.json()["status"] == "deprecated"
    assert ModelVersion.objects.get().status == "deprecated"


def test_a_catalog_model_with_versions_cannot_be_deleted(admin_api, catalog_model):
    register()

    response = admin_api.delete(f"/api/v1/models/{catalog_model.pk}/")

    assert response.status_code == 409
    assert "/abc_corp/claim/doc_classification v1" in response.json()["detail"]
    assert CatalogModel.objects.exists()


def test_patch_changes_description_status_and_tags(admin_api, catalog_model):
    version = register(tags={"framework": "sklearn", "stage": "dev"})

    response = admin_api.patch(f"{VERSIONS}{version.pk}/", {
        "description": "better", "status": "deprecated",
        "tags": {"framework": "sklearn", "owner": "alice"}}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["description"] == "better"
    assert body["status"] == "deprecated"
    assert body["tags"] == {"framework": "sklearn", "owner": "alice"}


def test_the_document_sent_back_with_put_is_accepted(admin_api, example, catalog_model):
    created = admin_api.post(VERSIONS, example("model_version"), format="json").json()
    created["description"] = "described again"

    response = admin_api.put(f"{VERSIONS}{created['id']}/", created, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["description"] == "described again"


def test_a_document_with_an_upload_sent_back_with_put_is_accepted(admin_api, catalog_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    version = register()
    services.upload_artifact(version=version, name="trained",
                             file=SimpleUploadedFile("m.tar.gz", b"weights"))
    document = admin_api.get(f"{VERSIONS}{version.pk}/").json()
    assert document["artifacts"][0]["uri"].startswith("mlportal://artifacts/")

    response = admin_api.put(f"{VERSIONS}{version.pk}/", document | {"description": "new"},
                             format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["artifacts"] == document["artifacts"]


@pytest.mark.parametrize(("field", "value"), [
    ("model_version", 5),
    ("namespace", "/abc_corp/other"),
    ("model_name", "other"),
    ("created_by", "someone else"),
    ("create_at", "2024-01-01T00:00:00.000Z"),
    ("artifacts", [{"name": "trained", "uri": "s3://elsewhere/model.tar.gz"}]),
    ("artifacts", []),
])
def test_what_was_registered_cannot_change(admin_api, example, catalog_model, field, value):
    version_id = admin_api.post(VERSIONS, example("model_version"), format="json").json()["id"]

    response = admin_api.patch(f"{VERSIONS}{version_id}/", {field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert admin_api.get(f"{VERSIONS}{version_id}/").json()[field] == example(
        "model_version")[field]


class TestFilters:
    @pytest.fixture(autouse=True)
    def versions(self, catalog_model):
        save_catalog_model(namespace="/abc_corp/claim/fraud", model_name="scorer")
        save_catalog_model(namespace="/xyz", model_name="churn")
        first = register(description="first cut", created_by="arn:aws:iam::1:role/train",
                         tags={"framework": "sklearn"})
        second = register(tags={"framework": "torch"})
        services.deprecate_version(version=first)
        services.set_alias(version=second, name="champion")
        register(model=("/abc_corp/claim/fraud", "scorer"))
        register(model=("/xyz", "churn"))

    def found(self, client, query):
        response = client.get(VERSIONS + query)
        assert response.status_code == 200, response.content
        return [f"{v['model_name']}:{v['model_version']}" for v in response.json()["results"]]

    def test_by_natural_key(self, reader_api):
        query = "?namespace=/abc_corp/claim&model_name=doc_classification&model_version=1"
        assert self.found(reader_api, query) == ["doc_classification:1"]

    def test_by_namespace_and_below(self, reader_api):
        assert self.found(reader_api, "?namespace=/abc_corp/claim&ordering=model_version") == [
            "doc_classification:1", "doc_classification:2"]
        assert sorted(self.found(reader_api, "?within=/abc_corp")) == [
            "doc_classification:1", "doc_classification:2", "scorer:1"]

    def test_by_alias_status_creator_and_tag(self, reader_api):
        assert self.found(reader_api, "?model_name=doc_classification&alias=champion") == [
            "doc_classification:2"]
        assert self.found(reader_api, "?status=deprecated") == ["doc_classification:1"]
        assert self.found(reader_api, "?created_by=arn:aws:iam::1:role/train") == [
            "doc_classification:1"]
        assert self.found(reader_api, "?tag=framework=torch") == ["doc_classification:2"]
        assert len(self.found(reader_api, "?tag=framework")) == 2

    def test_by_text_and_time(self, reader_api):
        assert self.found(reader_api, "?q=first") == ["doc_classification:1"]
        assert self.found(reader_api, "?q=churn") == ["churn:1"]
        assert len(self.found(reader_api, "?create_at_after=2000-01-01T00:00:00Z")) == 4
        assert self.found(reader_api, "?create_at_before=2000-01-01T00:00:00Z") == []

    def test_a_bad_filter_value_is_a_400_naming_it(self, reader_api):
        response = reader_api.get(VERSIONS + "?status=retired")
        assert response.status_code == 400
        assert "status" in response.json()
        assert "model_version" in reader_api.get(VERSIONS + "?model_version=one").json()


def test_list_queries_do_not_grow_with_the_page(admin_api, catalog_model,
                                                django_assert_max_num_queries):
    for index in range(30):
        version = register(tags={"index": str(index)})
        services.link_artifact(version=version, name="trained", uri=f"s3://b/{index}.tar.gz")
        services.set_alias(version=version, name="latest")

    with django_assert_max_num_queries(10) as small:
        assert len(admin_api.get(VERSIONS + "?page_size=2").json()["results"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(VERSIONS + "?page_size=30").json()["results"]) == 30


def test_a_new_version_may_say_it_is_ready_but_not_deprecated(admin_api, example,
                                                               catalog_model):
    ready = admin_api.post(VERSIONS, example("model_version") | {"status": "ready"}, format="json")
    deprecated = admin_api.post(VERSIONS, example("model_version") | {
        "model_version": 2, "status": "deprecated"}, format="json")

    assert ready.status_code == 201, ready.json()
    assert ready.json()["status"] == "ready"
    assert deprecated.status_code == 400
    assert "status" in deprecated.json()
    assert ModelVersion.objects.count() == 1


def test_a_multipart_version_document_is_registered_too(admin_api, catalog_model):
    response = admin_api.post(VERSIONS, {
        "namespace": "/abc_corp/claim", "model_name": "doc_classification",
        "status": "ready", "description": "from a form",
    })

    assert response.status_code == 201, response.json()
    assert response.json()["model_version"] == 1


def test_a_patch_with_an_incomplete_artifact_is_refused_not_a_500(admin_api, catalog_model):
    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")

    response = admin_api.patch(f"{VERSIONS}{version.pk}/", {"artifacts": [{"name": "trained"}]},
                               format="json")

    assert response.status_code == 400
    assert "artifacts" in response.json()
