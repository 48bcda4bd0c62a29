import pytest

from catalog.models import CatalogModel, DataSource, Namespace
from catalog.services import save_catalog_model

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
DATA_SOURCES = "/api/v1/data-sources/"
NAMESPACES = "/api/v1/namespaces/"


def without_server_fields(document):
    server_fields = {"id", "source", "model_card", "create_at", "update_at"}
    return {k: v for k, v in document.items() if k not in server_fields}


def test_posting_the_example_document_returns_it_as_it_is(admin_api, example):
    document = example("catalog_model")

    created = admin_api.post(MODELS, document, format="json")

    assert created.status_code == 201, created.data
    assert without_server_fields(created.json()) == document
    fetched = admin_api.get(f"{MODELS}{created.data['id']}/").json()
    assert without_server_fields(fetched) == document
    assert fetched["create_at"].endswith("Z") and fetched["update_at"].endswith("Z")


def test_namespace_and_its_ancestors_are_created_on_first_use(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")

    paths = {ns["path"]: ns["parent"] for ns in admin_api.get(NAMESPACES).json()["results"]}
    assert paths == {"/abc_corp": None, "/abc_corp/claim": "/abc_corp"}


def test_nested_data_sources_link_by_name_to_stored_ones(admin_api, example):
    DataSource.objects.create(name="more data source", type="s3")
    document = example("catalog_model")

    response = admin_api.post(MODELS, document, format="json")

    assert response.status_code == 201
    assert DataSource.objects.count() == 2
    assert {"name": "more data source", "type": "s3"} in response.json()["data_sources"]


def test_a_nested_data_source_contradicting_the_stored_one_is_refused(admin_api, example):
    DataSource.objects.create(name="claim history datawarehouse", type="postgres")

    response = admin_api.post(MODELS, example("catalog_model"), format="json")

    assert response.status_code == 400
    assert "claim history datawarehouse" in response.json()["data_sources"][0]
    assert "type" in response.json()["data_sources"][0]
    assert not CatalogModel.objects.exists()
    assert not DataSource.objects.filter(name="more data source").exists()


def test_a_duplicate_model_name_in_a_namespace_is_a_conflict(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")

    response = admin_api.post(MODELS, example("catalog_model"), format="json")

    assert response.status_code == 409
    assert "model_name" in response.json()
    assert CatalogModel.objects.count() == 1


def test_the_same_name_in_another_namespace_is_fine(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")
    document = example("catalog_model") | {"namespace": "/abc_corp/motor"}

    assert admin_api.post(MODELS, document, format="json").status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("namespace", "abc_corp/claim"),
        ("namespace", "/abc_corp/claim/"),
        ("namespace", "/abc_corp//claim"),
        ("namespace", "/ABC_corp"),
        ("namespace", "/_abc"),
        ("namespace", ""),
        ("model_name", "-leading-dash"),
        ("model_name", "has space"),
        ("model_name", "slash/inside"),
        ("model_name", ""),
        ("url", "ftp://abc.corp.com/model"),
        ("url", "javascript:alert(1)"),
        ("url", "not a url"),
        ("owner", "alice"),
        ("data_sources", "claim history datawarehouse"),
        ("data_sources", {"name": "x"}),
        ("data_sources", ["just a name"]),
        ("data_sources", [{"type": "s3"}]),
        ("inference", {"input": {"schema": {"type": "not-a-type"}}}),
        ("inference", {"output": {"schema": {"properties": []}}}),
        ("inference", {"input": {"schema": "a string"}}),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(admin_api, example, field, value):
    document = example("catalog_model") | {field: value}

    response = admin_api.post(MODELS, document, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not CatalogModel.objects.exists()


def test_every_bad_field_is_named_at_once(admin_api):
    document = {"namespace": "bad", "model_name": "-bad", "url": "ftp://x", "owner": "bob",
                "data_sources": "x"}

    response = admin_api.post(MODELS, document, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"namespace", "model_name", "url", "owner", "data_sources"}


def test_malformed_json_is_a_400(admin_api):
    response = admin_api.post(MODELS, '{"namespace": ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_a_json_array_instead_of_a_document_is_a_400(admin_api):
    response = admin_api.post(MODELS, [1, 2], format="json")

    assert response.status_code == 400


def test_anonymous_requests_get_401(api, example):
    assert api.get(MODELS).status_code == 401
    assert api.post(MODELS, example("catalog_model"), format="json").status_code == 401
    assert api.get(NAMESPACES).status_code == 401
    assert api.get(DATA_SOURCES).status_code == 401


def test_a_signed_in_reader_reads_but_cannot_write(reader_api, example):
    assert reader_api.get(MODELS).status_code == 200

    response = reader_api.post(MODELS, example("catalog_model"), format="json")

    assert response.status_code == 403
    assert not CatalogModel.objects.exists()


def test_patch_changes_only_what_is_sent(admin_api, example):
    model_id = admin_api.post(MODELS, example("catalog_model"), format="json").data["id"]

    response = admin_api.patch(
        f"{MODELS}{model_id}/",
        {"owner": "bob@example.com", "inference": {"input": {"schema": {"type": "object"}}}},
        format="json",
    )

    assert response.status_code == 200, response.data
    body = response.json()
    assert body["owner"] == "bob@example.com"
    assert body["inference"]["input"] == {"description": "...", "schema": {"type": "object"}}
    assert body["inference"]["output"] == {"description": "...", "schema": {}}
    assert len(body["data_sources"]) == 2


def test_put_replaces_the_data_source_links(admin_api, example):
    document = example("catalog_model")
    model_id = admin_api.post(MODELS, document, format="json").data["id"]
    document["data_sources"] = [{"name": "more data source"}]

    response = admin_api.put(f"{MODELS}{model_id}/", document, format="json")

    assert response.status_code == 200
    assert response.json()["data_sources"] == [{"name": "more data source"}]
    assert DataSource.objects.count() == 2


def test_a_model_can_be_deleted_but_a_used_data_source_cannot(admin_api, example):
    model_id = admin_api.post(MODELS, example("catalog_model"), format="json").data["id"]
    source = DataSource.objects.get(name="more data source")

    refused = admin_api.delete(f"{DATA_SOURCES}{source.pk}/")
    assert refused.status_code == 409
    assert "doc_classification" in refused.json()["detail"]

    assert admin_api.delete(f"{MODELS}{model_id}/").status_code == 204
    assert admin_api.delete(f"{DATA_SOURCES}{source.pk}/").status_code == 204


def test_a_namespace_with_models_cannot_be_deleted(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")
    namespace = Namespace.objects.get(path="/abc_corp/claim")

    assert admin_api.delete(f"{NAMESPACES}{namespace.pk}/").status_code == 409
    assert admin_api.delete(f"{NAMESPACES}{namespace.parent_id}/").status_code == 409


class TestFilters:
    @pytest.fixture(autouse=True)
    def catalog(self):
        warehouse = DataSource.objects.create(name="warehouse", type="snowflake")
        bucket = DataSource.objects.create(name="bucket", type="s3")
        save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification",
                           owner="alice@example.com", description="reads claim letters",
                           data_sources=[{"name": "warehouse"}, {"name": "bucket"}])
        save_catalog_model(namespace="/abc_corp/claim/fraud", model_name="scorer",
                           owner="bob@example.com", data_sources=[{"name": "warehouse"}])
        save_catalog_model(namespace="/xyz", model_name="churn", owner="carol@example.com",
                           data_sources=[{"name": "bucket"}])
        return warehouse, bucket

    def names(self, client, query):
        response = client.get(MODELS + query)
        assert response.status_code == 200, response.content
        return [model["model_name"] for model in response.json()["results"]]

    def test_by_namespace_exactly_or_within(self, admin_api):
        assert self.names(admin_api, "?namespace=/abc_corp/claim") == ["doc_classification"]
        assert self.names(admin_api, "?within=/abc_corp") == ["doc_classification", "scorer"]

    def test_by_natural_key(self, admin_api):
        query = "?namespace=/abc_corp/claim&model_name=doc_classification"
        assert self.names(admin_api, query) == ["doc_classification"]

    def test_by_owner_data_source_and_type(self, admin_api):
        assert self.names(admin_api, "?owner=BOB@example.com") == ["scorer"]
        assert self.names(admin_api, "?data_source=warehouse") == ["doc_classification", "scorer"]
        assert self.names(admin_api, "?data_source_type=s3") == ["doc_classification", "churn"]

    def test_by_text(self, admin_api):
        assert self.names(admin_api, "?q=letters") == ["doc_classification"]
        assert self.names(admin_api, "?q=carol") == ["churn"]

    def test_by_time_range_and_ordering(self, admin_api):
        assert self.names(admin_api, "?create_at_after=2000-01-01T00:00:00Z&ordering=-model_name") \
            == ["scorer", "doc_classification", "churn"]
        assert self.names(admin_api, "?create_at_before=2000-01-01T00:00:00Z") == []

    def test_a_bad_filter_value_is_a_400_naming_it(self, admin_api):
        response = admin_api.get(MODELS + "?create_at_after=yesterday")
        assert response.status_code == 400
        assert "create_at_after" in response.json() or "create_at" in response.json()

    def test_data_sources_filter_by_type(self, admin_api):
        response = admin_api.get(DATA_SOURCES + "?type=s3")
        assert [s["name"] for s in response.json()["results"]] == ["bucket"]
        assert response.json()["results"][0]["models"] == ["/abc_corp/claim/doc_classification",
                                                          "/xyz/churn"]


def test_list_queries_do_not_grow_with_the_page(admin_api, django_assert_max_num_queries):
    for index in range(30):
        save_catalog_model(namespace=f"/team{index % 3}", model_name=f"model{index}",
                           data_sources=[{"name": f"source{index}"}, {"name": "shared"}])

    with django_assert_max_num_queries(8) as small:
        assert len(admin_api.get(MODELS + "?page_size=2").json()["results"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(MODELS + "?page_size=30").json()["results"]) == 30
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(DATA_SOURCES + "?page_size=31").json()["results"]) == 31
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(NAMESPACES + "?page_size=3").json()["results"]) == 3


class TestNamespaces:
    def test_create_and_read(self, admin_api):
        response = admin_api.post(NAMESPACES, {"path": "/abc_corp/claim", "description": "Claims"},
                                  format="json")
        assert response.status_code == 201
        assert response.json()["path"] == "/abc_corp/claim"
        assert response.json()["description"] == "Claims"
        assert response.json()["parent"] == "/abc_corp"

    def test_a_duplicate_path_is_a_conflict(self, admin_api):
        admin_api.post(NAMESPACES, {"path": "/abc_corp"}, format="json")
        response = admin_api.post(NAMESPACES, {"path": "/abc_corp"}, format="json")
        assert response.status_code == 409
        assert "path" in response.json()

    @pytest.mark.parametrize("path", ["abc", "/abc/", "/Abc", "/a b", "//", "/a/../b"])
    def test_a_bad_path_is_a_400(self, admin_api, path):
        response = admin_api.post(NAMESPACES, {"path": path}, format="json")
        assert response.status_code == 400
        assert "path" in response.json()

    def test_the_path_cannot_change(self, admin_api):
        namespace_id = admin_api.post(NAMESPACES, {"path": "/abc"}, format="json").data["id"]
        response = admin_api.patch(f"{NAMESPACES}{namespace_id}/", {"path": "/xyz"}, format="json")
        assert response.status_code == 400
        assert "path" in response.json()
        description = admin_api.patch(f"{NAMESPACES}{namespace_id}/", {"description": "new"},
                                      format="json")
        assert description.json()["description"] == "new"


class TestDataSources:
    def test_credentials_in_a_connection_are_masked(self, admin_api):
        connection = {"account": "abc", "user": "svc", "password": "hunter2", "private_key": "k"}
        response = admin_api.post(DATA_SOURCES, {"name": "wh", "type": "snowflake",
                                                 "connection": connection}, format="json")
        assert response.status_code == 201
        assert "hunter2" not in response.content.decode()
        assert response.json()["connection"] == {
            "account": "abc", "user": "svc", "password": "********", "private_key": "********"}
        assert DataSource.objects.get(name="wh").connection["password"] == "hunter2"

    def test_sending_back_the_masked_document_keeps_the_secret(self, admin_api):
        created = admin_api.post(DATA_SOURCES, {"name": "wh", "connection": {"password": "p1"}},
                                 format="json").json()
        created["description"] = "changed"
        response = admin_api.put(f"{DATA_SOURCES}{created['id']}/", created, format="json")
        assert response.status_code == 200
        assert DataSource.objects.get(name="wh").connection == {"password": "p1"}

    def test_a_duplicate_name_is_a_conflict(self, admin_api):
        admin_api.post(DATA_SOURCES, {"name": "wh"}, format="json")
        response = admin_api.post(DATA_SOURCES, {"name": "wh"}, format="json")
        assert response.status_code == 409
        assert "name" in response.json()

    def test_a_connection_must_be_an_object(self, admin_api):
        response = admin_api.post(DATA_SOURCES, {"name": "wh", "connection": [1]}, format="json")
        assert response.status_code == 400
        assert "connection" in response.json()


class TestValidateInput:
    @pytest.fixture
    def model(self):
        return save_catalog_model(
            namespace="/abc", model_name="scorer",
            inference={"input": {"description": "a claim", "schema": {
                "type": "object", "required": ["amount"],
                "properties": {"amount": {"type": "number", "minimum": 0}},
            }}},
        )

    def test_a_valid_payload(self, reader_api, model):
        response = reader_api.post(f"{MODELS}{model.pk}/validate-input/", {"amount": 3},
                                   format="json")
        assert response.json() == {"valid": True, "errors": []}

    def test_an_invalid_payload_lists_its_errors(self, reader_api, model):
        response = reader_api.post(f"{MODELS}{model.pk}/validate-input/", {"amount": -1},
                                   format="json")
        assert response.status_code == 200
        assert response.json()["valid"] is False
        assert response.json()["errors"][0]["path"] == "amount"

    def test_anonymous_gets_401(self, api, model):
        assert api.post(f"{MODELS}{model.pk}/validate-input/", {}, format="json").status_code == 401


def test_openapi_schema_and_docs_are_served_without_a_cdn(admin_client):
    schema = admin_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/models/" in schema.content
    docs = admin_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"swagger-ui" in docs.content


def test_the_openapi_schema_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
