import pytest

from deployments.models import Deployment, EnvironmentVariable
from tests.helpers import ENDPOINT, at

pytestmark = pytest.mark.django_db

DEPLOYMENTS = "/api/v1/deployments/"
# What the server adds to the user's document.
SERVER_FIELDS = {"id", "environment", "traffic_percent", "status", "active_from", "active_until",
                 "replaced_by", "status_history", "update_at"}


def as_posted(response_body):
    return {key: value for key, value in response_body.items() if key not in SERVER_FIELDS}


def test_the_example_document_reads_back_as_it_was_posted(admin_api, example, versions):
    document = example("deployment")

    created = admin_api.post(DEPLOYMENTS, document, format="json")

    assert created.status_code == 201, created.json()
    fetched = admin_api.get(f"{DEPLOYMENTS}{created.json()['id']}/").json()
    for body in (created.json(), fetched):
        assert as_posted(body) == document
        assert set(body) == set(document) | SERVER_FIELDS
    assert fetched["status"] == "active"
    assert fetched["active_from"] == "2023-01-15T00:00:00.000Z"
    assert fetched["active_until"] is None
    assert fetched["environment"] == "" and fetched["traffic_percent"] is None
    assert [(step["status"], step["at"], step["user"]) for step in fetched["status_history"]] \
        == [("active", "2023-01-15T00:00:00.000Z", "root")]


def test_the_server_numbers_deployments_per_model(admin_api, example, versions):
    document = example("deployment")
    del document["deployment_id"], document["create_at"]

    numbers = [admin_api.post(DEPLOYMENTS, document, format="json").json()["deployment_id"]
               for _ in range(3)]

    assert numbers == [1, 2, 3]


def test_a_taken_deployment_id_is_a_conflict(admin_api, example, versions):
    admin_api.post(DEPLOYMENTS, example("deployment"), format="json")

    response = admin_api.post(DEPLOYMENTS, example("deployment"), format="json")

    assert response.status_code == 409
    assert "already has a deployment 1" in response.json()["deployment_id"][0]
    assert Deployment.objects.count() == 1


def test_a_free_client_deployment_id_is_kept_and_numbering_goes_on_from_it(admin_api, example,
                                                                         versions):
    document = example("deployment") | {"deployment_id": 7}
    assert admin_api.post(DEPLOYMENTS, document, format="json").json()["deployment_id"] == 7
    del document["deployment_id"]

    assert admin_api.post(DEPLOYMENTS, document, format="json").json()["deployment_id"] == 8


def test_a_version_that_does_not_exist_is_a_400_naming_it(admin_api, example, versions):
    response = admin_api.post(DEPLOYMENTS, example("deployment") | {"model_version": 9},
                              format="json")

    assert response.status_code == 400
    assert response.json() == {"model_version": [
        "/abc_corp/claim/doc_classification has no version 9."]}


def test_a_model_that_does_not_exist_is_a_400_naming_it(admin_api, example, versions):
    response = admin_api.post(DEPLOYMENTS, example("deployment") | {"model_name": "nope"},
                              format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["model_name"]
    assert "no model /abc_corp/claim/nope" in response.json()["model_name"][0]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("deployment_method", "ec2", "ecs (self hosted ECS)"),
        ("deployment_method", "", "AWS SageMaker"),
        ("deployment_method", None, "null"),
        ("rolling_strategy", "canory", '"canory" is not a rolling strategy'),
        ("rolling_strategy", "Blue_Green", "blue_green"),
        ("endpoint", "ftp://abc.corp.com/model", "http"),
        ("endpoint", "https://", "http"),
        ("endpoint", "not a url", "http"),
        ("endpoint", "javascript:alert(1)", "http"),
        ("endpoint", "", "blank"),
        ("model_version", 0, "greater than or equal to 1"),
        ("model_version", "three", "integer"),
        ("namespace", None, "null"),
        ("deployment_id", 0, "greater than or equal to 1"),
        ("create_at", "yesterday", "format"),
        ("create_at", "2999-01-01T00:00:00Z", "future"),
        ("environment_variables", "FOO=BAR", "list"),
        ("environment_variables", {"name": "FOO", "value": "BAR"}, "list"),
        ("environment_variables", ["FOO"], "dictionary"),
        ("environment_variables", [{"name": "1FOO", "value": "x"}], "starts with a letter"),
        ("environment_variables", [{"name": "FOO-BAR", "value": "x"}], "letters, digits"),
        ("environment_variables", [{"name": "", "value": "x"}], "blank"),
        ("environment_variables", [{"value": "x"}], "required"),
        ("environment_variables", [{"name": "FOO"}], "required"),
        ("environment_variables", [{"name": "FOO", "value": "a"}, {"name": "FOO", "value": "b"}],
         "listed more than once: FOO"),
        ("environment_variables", [{"name": "FOO", "value": "********"}], "no variable"),
        ("traffic_percent", 30, "Only a canary"),
        ("status", "retired", "recorded as pending or active"),
        ("status", "live", "not a deployment status"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_api, example, versions, field, value, says):
    document = example("deployment") | {field: value}

    response = admin_api.post(DEPLOYMENTS, document, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {field}, response.json()
    assert says in str(response.json()[field]), response.json()
    assert not Deployment.objects.exists()
    assert not EnvironmentVariable.objects.exists()


@pytest.mark.parametrize("percent", [0, 101, -5, "half"])
def test_a_canary_traffic_percent_outside_1_to_100_is_a_400(admin_api, example, versions,
                                                            percent):
    document = example("deployment") | {"rolling_strategy": "canary", "traffic_percent": percent}

    response = admin_api.post(DEPLOYMENTS, document, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["traffic_percent"]


def test_a_canary_names_its_traffic_percent(admin_api, example, versions):
    response = admin_api.post(DEPLOYMENTS, example("deployment") | {"rolling_strategy": "canary"},
                              format="json")

    assert response.status_code == 400
    assert response.json() == {"traffic_percent": [
        "A canary deployment names its traffic percent (1..100)."]}


def test_missing_fields_are_each_named(admin_api, versions):
    response = admin_api.post(DEPLOYMENTS, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"namespace", "model_name", "model_version", "endpoint",
                                    "deployment_method", "rolling_strategy"}


def test_malformed_json_is_a_400(admin_api, versions):
    response = admin_api.post(DEPLOYMENTS, '{"endpoint": ', content_type="application/json")

    assert response.status_code == 400


def test_environment_variables_keep_their_order_and_secret_flag(admin_api, example, versions):
    document = example("deployment")
    document["environment_variables"] = [
        {"name": "ZED", "value": "1"},
        {"name": "DB_URL", "value": "postgres://db/claims", "secret": True},
        {"name": "ALPHA", "value": ""},
    ]

    body = admin_api.post(DEPLOYMENTS, document, format="json").json()

    assert body["environment_variables"] == [
        {"name": "ZED", "value": "1"},
        {"name": "DB_URL", "value": "********", "secret": True},
        {"name": "ALPHA", "value": ""},
    ]
    assert EnvironmentVariable.objects.get(name="DB_URL").value == "postgres://db/claims"


def test_a_variable_named_like_a_credential_is_always_secret(admin_api, example, versions):
    document = example("deployment")
    document["environment_variables"] = [{"name": "API_TOKEN", "value": "tok-123"}]

    body = admin_api.post(DEPLOYMENTS, document, format="json").json()

    assert body["environment_variables"] == [
        {"name": "API_TOKEN", "value": "********", "secret": True}]


class TestUpdates:
    @pytest.fixture
    def deployment(self, admin_api, example, versions):
        document = example("deployment")
        document["environment_variables"].append(
            {"name": "DB_PASSWORD", "value": "s3cr3t", "secret": True})
        return admin_api.post(DEPLOYMENTS, document, format="json").json()

    def url(self, deployment):
        return f"{DEPLOYMENTS}{deployment['id']}/"

    def test_putting_back_what_was_read_changes_nothing(self, admin_api, deployment):
        response = admin_api.put(self.url(deployment), deployment, format="json")

        assert response.status_code == 200, response.json()
        assert response.json() == deployment | {"update_at": response.json()["update_at"]}
        assert EnvironmentVariable.objects.get(name="DB_PASSWORD").value == "s3cr3t"

    def test_a_masked_value_keeps_the_stored_secret_even_without_the_flag(self, admin_api,
                                                                          deployment):
        variables = [{"name": "FOO", "value": "NEW"}, {"name": "DB_PASSWORD", "value": "********"}]

        response = admin_api.patch(self.url(deployment), {"environment_variables": variables},
                                   format="json")

        assert response.status_code == 200
        assert response.json()["environment_variables"] == [
            {"name": "FOO", "value": "NEW"},
            {"name": "DB_PASSWORD", "value": "********", "secret": True},
        ]
        stored = {v.name: (v.value, v.secret) for v in EnvironmentVariable.objects.all()}
        assert stored == {"FOO": ("NEW", False), "DB_PASSWORD": ("s3cr3t", True)}

    def test_a_new_value_replaces_a_secret(self, admin_api, deployment):
        admin_api.patch(self.url(deployment), {"environment_variables": [
            {"name": "DB_PASSWORD", "value": "rotated", "secret": True}]}, format="json")

        assert EnvironmentVariable.objects.get().value == "rotated"

    def test_what_was_deployed_where_does_not_change(self, admin_api, deployment):
        response = admin_api.patch(self.url(deployment), {
            "endpoint": "https://elsewhere.example.com/", "model_version": 2,
            "deployment_method": "eks", "create_at": "2023-02-01T00:00:00Z"}, format="json")

        assert response.status_code == 400
        assert set(response.json()) == {"endpoint", "model_version", "deployment_method",
                                        "create_at"}
        assert "record a new deployment" in response.json()["endpoint"][0]

    def test_environment_changes(self, admin_api, deployment):
        response = admin_api.patch(self.url(deployment), {"environment": "prod"}, format="json")

        assert response.json()["environment"] == "prod"

    def test_status_changes_through_patch_and_are_kept_in_the_history(self, admin_api,
                                                                      deployment):
        response = admin_api.patch(self.url(deployment), {"status": "failed"}, format="json")

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "failed"
        assert body["active_until"] is not None
        assert [step["status"] for step in body["status_history"]] == ["active", "failed"]
        assert body["status_history"][1]["user"] == "root"

    @pytest.mark.parametrize(("status", "says"), [
        ("pending", "cannot become pending again"),
        ("rolled_back", "/rollback/"),
    ])
    def test_status_changes_that_are_refused(self, admin_api, deployment, status, says):
        response = admin_api.patch(self.url(deployment), {"status": status}, format="json")

        assert response.status_code == 400
        assert says in response.json()["status"][0]

    def test_a_final_status_stays(self, admin_api, deployment):
        admin_api.patch(self.url(deployment), {"status": "retired"}, format="json")

        response = admin_api.patch(self.url(deployment), {"status": "active"}, format="json")

        assert response.status_code == 400
        assert "final" in response.json()["status"][0]

    def test_a_deployment_is_never_deleted(self, admin_api, deployment):
        response = admin_api.delete(self.url(deployment))

        assert response.status_code == 405
        assert Deployment.objects.count() == 1


class TestAccess:
    def test_anonymous_requests_get_401(self, api, example, versions, deploy):
        deployment = deploy(3)
        assert api.get(DEPLOYMENTS).status_code == 401
        assert api.get(f"{DEPLOYMENTS}{deployment.pk}/").status_code == 401
        assert api.post(DEPLOYMENTS, example("deployment"), format="json").status_code == 401
        assert api.post(f"{DEPLOYMENTS}{deployment.pk}/rollback/").status_code == 401
        assert api.post(f"{DEPLOYMENTS}{deployment.pk}/promote/").status_code == 401

    def test_a_reader_reads_but_writes_nothing(self, reader_api, example, versions, deploy):
        deploy(2, create_at=at("01-10 00:00"))
        deployment = deploy(3, create_at=at("01-12 00:00"))

        assert reader_api.get(DEPLOYMENTS).json()["count"] == 2
        assert reader_api.get(f"{DEPLOYMENTS}{deployment.pk}/").status_code == 200
        assert reader_api.post(DEPLOYMENTS, example("deployment"),
                               format="json").status_code == 403
        assert reader_api.patch(f"{DEPLOYMENTS}{deployment.pk}/", {"status": "retired"},
                                format="json").status_code == 403
        assert reader_api.post(f"{DEPLOYMENTS}{deployment.pk}/rollback/").status_code == 403
        assert reader_api.post(f"{DEPLOYMENTS}{deployment.pk}/promote/").status_code == 403
        assert Deployment.objects.count() == 2
        assert Deployment.objects.get(pk=deployment.pk).status == "active"

    def test_an_editor_of_the_namespace_writes(self, make_user, grant, client_for, example,
                                               versions):
        user = make_user("cd")
        grant(user, "/abc_corp/claim")
        client = client_for(user)

        created = client.post(DEPLOYMENTS, example("deployment"), format="json")
        assert created.status_code == 201
        retired = client.patch(f"{DEPLOYMENTS}{created.json()['id']}/", {"status": "retired"},
                               format="json")
        assert retired.status_code == 200
        assert retired.json()["status_history"][-1]["user"] == "cd"

    def test_a_read_only_token_writes_nothing(self, client_for, superuser, example, versions):
        client = client_for(superuser, write_enabled=False)

        assert client.post(DEPLOYMENTS, example("deployment"), format="json").status_code == 403


class TestFilters:
    @pytest.fixture(autouse=True)
    def history(self, deploy, versions):
        from catalog.services import save_catalog_model
        from deployments import services
        from registry.models import ModelVersion

        deploy(1, create_at=at("01-02 00:00"), environment="prod")
        deploy(2, create_at=at("01-09 00:00"), environment="prod")
        deploy(1, endpoint="https://staging.example.com/doc", create_at=at("01-03 00:00"),
               environment="staging", deployment_method="eks", rolling_strategy="rolling")
        other = save_catalog_model(namespace="/xyz/cards", model_name="anomaly")
        services.record_deployment(
            model_version=ModelVersion.objects.create(catalog_model=other, model_version=1),
            endpoint="https://cards.example.com/anomaly", deployment_method="lambda",
            rolling_strategy="blue_green", create_at=at("01-05 00:00"), status="pending")

    def endpoints(self, client, query):
        response = client.get(DEPLOYMENTS + query)
        assert response.status_code == 200, response.content
        return sorted((d["model_name"], d["model_version"], d["endpoint"].split("/")[2])
                      for d in response.json()["results"])

    def test_by_natural_key(self, admin_api):
        query = "?namespace=/abc_corp/claim&model_name=doc_classification&model_version=1"
        assert self.endpoints(admin_api, query) == [
            ("doc_classification", 1, "abc.execute-api.us-east-1.amazonaws.com"),
            ("doc_classification", 1, "staging.example.com"),
        ]
        assert self.endpoints(admin_api, "?within=/xyz") == [
            ("anomaly", 1, "cards.example.com")]
        assert len(self.endpoints(admin_api, "?model_name=doc_classification&deployment_id=2")) \
            == 1

    def test_by_method_strategy_environment_and_status(self, admin_api):
        assert self.endpoints(admin_api, "?deployment_method=eks") == [
            ("doc_classification", 1, "staging.example.com")]
        assert len(self.endpoints(admin_api, "?rolling_strategy=blue_green")) == 3
        assert len(self.endpoints(admin_api, "?environment=prod")) == 2
        assert self.endpoints(admin_api, "?status=pending") == [
            ("anomaly", 1, "cards.example.com")]
        assert len(self.endpoints(admin_api, "?status=retired")) == 1

    def test_active_and_not(self, admin_api):
        assert self.endpoints(admin_api, "?active=true") == [
            ("doc_classification", 1, "staging.example.com"),
            ("doc_classification", 2, "abc.execute-api.us-east-1.amazonaws.com"),
        ]
        assert len(self.endpoints(admin_api, "?active=false")) == 2

    def test_by_text_and_time(self, admin_api):
        assert len(self.endpoints(admin_api, "?q=staging")) == 1
        assert len(self.endpoints(admin_api, "?q=cards")) == 1
        assert len(self.endpoints(admin_api, "?create_at_after=2023-01-04T00:00:00Z")) == 2
        assert len(self.endpoints(admin_api, "?create_at_before=2023-01-04T00:00:00Z")) == 2

    def test_ordering(self, admin_api):
        results = admin_api.get(DEPLOYMENTS + "?ordering=create_at").json()["results"]
        assert [d["create_at"][:10] for d in results] == [
            "2023-01-02", "2023-01-03", "2023-01-05", "2023-01-09"]

    @pytest.mark.parametrize("query", ["?active_at=last tuesday", "?deployment_method=ec2",
                                       "?rolling_strategy=canory", "?status=live",
                                       "?model_version=x", "?active=perhaps"])
    def test_a_bad_filter_value_is_a_400_naming_it(self, admin_api, query):
        response = admin_api.get(DEPLOYMENTS + query)
        assert response.status_code == 400
        assert query[1:].split("=")[0] in response.json()


def test_list_queries_do_not_grow_with_the_page(admin_api, deploy,
                                                django_assert_max_num_queries):
    for index in range(30):
        deploy(index % 3 + 1, endpoint=f"https://e{index}.example.com/",
               environment_variables=[{"name": "A", "value": "1"},
                                      {"name": "B_SECRET", "value": "2"}])

    with django_assert_max_num_queries(8) as small:
        assert len(admin_api.get(DEPLOYMENTS + "?page_size=2").json()["results"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(DEPLOYMENTS + "?page_size=30").json()["results"]) == 30


def test_openapi_schema_describes_deployments(admin_client):
    schema = admin_client.get("/api/schema/")

    assert schema.status_code == 200
    for path in (b"/api/v1/deployments/", b"/api/v1/deployments/{id}/rollback/",
                 b"/api/v1/deployments/{id}/promote/"):
        assert path in schema.content
    assert b"canary" in schema.content


def test_the_summary_says_where_each_version_runs(deploy, versions,
                                                  django_assert_num_queries):
    from deployments.api.serializers import DEPLOYMENTS_OF_VERSION, DeploymentSummarySerializer
    from registry.models import ModelVersion

    deploy(2, create_at=at("01-09 00:00"))
    deploy(3, create_at=at("01-12 00:00"), environment_variables=[{"name": "K", "value": "v"}])

    with django_assert_num_queries(2):
        summaries = {
            version.model_version: DeploymentSummarySerializer(
                version.deployments.all(), many=True).data
            for version in ModelVersion.objects.prefetch_related(DEPLOYMENTS_OF_VERSION)
        }

    assert summaries[1] == []
    assert [(d["deployment_id"], d["status"], d["active_until"]) for d in summaries[2]] == [
        (1, "retired", "2023-01-12T00:00:00.000Z")]
    assert set(summaries[3][0]) == {
        "id", "deployment_id", "endpoint", "environment", "deployment_method",
        "rolling_strategy", "traffic_percent", "status", "active_from", "active_until"}


def test_a_version_shows_where_it_is_deployed_in_the_api_and_the_admin(
    admin_api, admin_client, deploy, versions, django_assert_max_num_queries
):
    deploy(2, create_at=at("01-10 00:00"))
    deploy(3, create_at=at("01-15 00:00"), environment="prod")

    listed = admin_api.get("/api/v1/versions/?model_name=doc_classification&ordering=model_version")
    by_number = {version["model_version"]: version for version in listed.json()["results"]}

    assert by_number[1]["deployments"] == []
    assert [(d["status"], d["active_until"]) for d in by_number[2]["deployments"]] == [
        ("retired", "2023-01-15T00:00:00.000Z")]
    assert by_number[3]["deployments"][0]["endpoint"] == ENDPOINT
    assert by_number[3]["deployments"][0]["environment"] == "prod"
    page = admin_client.get(f"/admin/registry/modelversion/{versions[3].pk}/change/")
    assert ENDPOINT in page.content.decode()
