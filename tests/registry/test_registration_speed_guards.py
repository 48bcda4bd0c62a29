"""Guards of the registry's cost in queries (regressions show here, not in timings), and of
the version counter that numbers registrations."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from mlportal.models import ObjectChange
from registry import services
from registry.models import ModelVersion, VersionCounter

VERSIONS = "/api/v1/versions/"
POSTGRESQL = connection.vendor == "postgresql"
MODEL = {"namespace": "/abc_corp/claim", "model_name": "doc_classification"}


def document(links=1, tags=1):
    return MODEL | {
        "artifacts": [{"name": f"a{n}", "uri": f"s3://b/{n}.tar.gz"} for n in range(links)],
        "tags": {f"k{n}": str(n) for n in range(tags)},
    }


@pytest.mark.django_db
class TestQueries:
    def test_registering_costs_the_same_queries_whatever_the_artifacts_and_tags(
            self, admin_api, catalog_model, django_assert_max_num_queries):
        admin_api.post(VERSIONS, document(), format="json")  # the token's first use
        # token, model, counter, version, artifacts, tags, audit records, then the event
        # (mlportal.events: its document from the version at hand) and its dispatch task
        # (+ BEGIN/COMMIT or a savepoint where the database reports them)
        with django_assert_max_num_queries(11) as small:
            assert admin_api.post(VERSIONS, document(1, 1), format="json").status_code == 201
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert admin_api.post(VERSIONS, document(8, 12), format="json").status_code == 201

    def test_every_row_of_a_bulk_registration_is_audited(self, admin_api, catalog_model):
        response = admin_api.post(VERSIONS, document(3, 2), format="json")

        changes = ObjectChange.objects.filter(request_id=response["X-Request-ID"])
        assert sorted(change.object_type for change in changes) == [
            "registry.artifact", "registry.artifact", "registry.artifact",
            "registry.modelversion", "registry.tag", "registry.tag"]
        assert {change.user_name for change in changes} == {"root"}
        assert {change.namespace for change in changes} == {"/abc_corp/claim"}
        assert all(change.action == "create" and change.prechange_data is None
                   for change in changes)

    def test_a_version_costs_two_queries_on_postgresql(self, admin_api, catalog_model,
                                                       django_assert_max_num_queries):
        version_id = admin_api.post(VERSIONS, document(2, 2), format="json").json()["id"]
        # token, version (with its rows as arrays); elsewhere + artifacts, tags, aliases,
        # deployments
        with django_assert_max_num_queries(2 if POSTGRESQL else 6):
            assert admin_api.get(f"{VERSIONS}{version_id}/").status_code == 200

    def test_a_page_of_versions_costs_three_queries_whatever_its_size(
            self, admin_api, catalog_model, django_assert_max_num_queries):
        for _ in range(30):
            admin_api.post(VERSIONS, document(2, 2), format="json")
        # token, count, versions (+ artifacts, tags, aliases, deployments off PostgreSQL)
        for size in (1, 30):
            with django_assert_max_num_queries(3 if POSTGRESQL else 7):
                page = admin_api.get(VERSIONS, {"page_size": size, "tag": "k1=1"}).json()
            assert len(page["results"]) == size

    def test_deprecated_versions_with_aliases_cost_no_more_queries(
            self, admin_api, catalog_model, django_assert_max_num_queries):
        for number in range(6):
            version = services.find_version(
                namespace=MODEL["namespace"], model_name=MODEL["model_name"],
                model_version=admin_api.post(VERSIONS, document(), format="json").json()[
                    "model_version"])
            services.set_alias(version=version, name=f"alias{number}")
            if number % 2:
                services.deprecate_version(version=version)
        with django_assert_max_num_queries(3 if POSTGRESQL else 7):
            page = admin_api.get(VERSIONS, {"page_size": 6}).json()
        warnings = [w for version in page["results"] for w in version["warnings"]]
        assert len(warnings) == 3
        assert all("but the alias alias" in warning for warning in warnings)

    def test_documents_read_none_of_their_models_card_or_schemas(
            self, admin_api, catalog_model, django_assert_max_num_queries):
        version_id = admin_api.post(VERSIONS, document(1, 1), format="json").json()["id"]
        for url in (f"{VERSIONS}{version_id}/", VERSIONS):
            with django_assert_max_num_queries(7) as captured:
                assert admin_api.get(url).status_code == 200
            # (All but the token's lookup, which reads its user whole for the request.)
            columns = " ".join(query["sql"] for query in captured.captured_queries
                               if "mlportal_token" not in query["sql"])
            for column in ("model_card", "inference_input_schema", '"password"'):
                assert column not in columns, (url, column)

    def test_a_token_in_use_is_not_written_on_every_request(self, reader_api,
                                                            django_assert_num_queries):
        reader_api.get("/api/v1/")
        with django_assert_num_queries(1):  # the token's lookup, no UPDATE
            reader_api.get("/api/v1/")


@pytest.mark.django_db
class TestCounter:
    def test_versions_written_without_the_counter_are_never_numbered_again(self, catalog_model):
        ModelVersion.objects.create(catalog_model=catalog_model, model_version=7)

        version = services.register_version(**MODEL)

        assert version.model_version == 8
        assert VersionCounter.objects.get(catalog_model=catalog_model).last_number == 8

    def test_a_number_given_moves_the_counter_past_it(self, catalog_model):
        services.register_version(**MODEL, model_version=10)

        assert services.register_version(**MODEL).model_version == 11

    def test_a_free_lower_number_may_be_given_and_the_counter_stays(self, catalog_model):
        services.register_version(**MODEL, model_version=10)
        services.register_version(**MODEL, model_version=4)

        assert services.register_version(**MODEL).model_version == 11

    def test_a_number_taken_is_a_conflict(self, catalog_model):
        services.register_version(**MODEL)

        with pytest.raises(ValidationError) as refused:
            services.register_version(**MODEL, model_version=1)
        assert refused.value.error_dict["model_version"][0].code == "unique"

    def test_a_failed_registration_hands_its_number_back(self, catalog_model):
        with pytest.raises(ValidationError):
            services.register_version(**MODEL, artifacts=[{"name": "bad name!", "uri": "s3://b/x"}])

        assert services.register_version(**MODEL).model_version == 1


def register_at_once(clients, **fields):
    start = threading.Barrier(clients)

    def register(_):
        try:
            start.wait(timeout=30)
            return services.register_version(**MODEL, **fields).model_version
        except ValidationError as exc:
            return exc.error_dict["model_version"][0].code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(register, range(clients)))


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_number_give_it_once(catalog_model):
    outcomes = register_at_once(8, model_version=5)

    assert sorted(outcomes, key=str) == [5] + ["unique"] * 7
    assert list(ModelVersion.objects.values_list("model_version", flat=True)) == [5]


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_a_model_with_no_counter_yet_are_consecutive(
        catalog_model):
    ModelVersion.objects.create(catalog_model=catalog_model, model_version=3)
    VersionCounter.objects.all().delete()

    numbers = register_at_once(16)

    assert sorted(numbers) == list(range(4, 20))
