import pytest

from catalog.services import save_catalog_model
from registry import services
from registry.models import Alias

pytestmark = pytest.mark.django_db

ALIASES = "/api/v1/aliases/"
MODEL = {"namespace": "/abc_corp/claim", "model_name": "doc_classification"}


@pytest.fixture
def versions(catalog_model):
    return [services.register_version(**MODEL) for _ in range(3)]


def set_alias(client, model_version, alias="champion", **fields):
    return client.post(ALIASES, {**MODEL, "alias": alias, "model_version": model_version,
                                 **fields}, format="json")


def test_setting_an_alias_points_it_at_the_version(admin_api, versions):
    response = set_alias(admin_api, 2)

    assert response.status_code == 201, response.json()
    assert response.json() | {"id": 0, "create_at": "", "update_at": ""} == {
        **MODEL, "alias": "champion", "model_version": 2, "version": versions[1].pk,
        "id": 0, "create_at": "", "update_at": ""}


def test_setting_it_again_moves_it(admin_api, versions):
    set_alias(admin_api, 2)

    response = set_alias(admin_api, 3)

    assert response.status_code == 200
    assert Alias.objects.get().version == versions[2]
    found = admin_api.get("/api/v1/versions/?model_name=doc_classification&alias=champion")
    assert [v["model_version"] for v in found.json()["results"]] == [3]
    assert admin_api.get(f"/api/v1/versions/{versions[2].pk}/").json()["aliases"] == [
        "champion"]


def test_each_model_has_its_own_aliases(admin_api, versions):
    save_catalog_model(namespace="/abc_corp/claim", model_name="fraud_scoring")
    services.register_version(namespace="/abc_corp/claim", model_name="fraud_scoring")
    set_alias(admin_api, 1)

    response = set_alias(admin_api, 1, model_name="fraud_scoring")

    assert response.status_code == 201
    assert Alias.objects.count() == 2


def test_an_alias_can_be_removed_and_the_version_stays(admin_api, versions):
    alias_id = set_alias(admin_api, 1).json()["id"]

    assert admin_api.delete(f"{ALIASES}{alias_id}/").status_code == 204
    assert not Alias.objects.exists()
    assert len(versions) == 3


@pytest.mark.parametrize(("fields", "named"), [
    ({"model_version": 9}, "model_version"),
    ({"model_name": "unknown"}, "model_name"),
    ({"alias": "1"}, "alias"),
    ({"alias": "has space"}, "alias"),
    ({"alias": ""}, "alias"),
    ({"model_version": "latest"}, "model_version"),
])
def test_bad_input_is_a_400_naming_the_field(admin_api, versions, fields, named):
    response = admin_api.post(ALIASES, {**MODEL, "alias": "champion", "model_version": 1,
                                        **fields}, format="json")

    assert response.status_code == 400, response.json()
    assert named in response.json()
    assert not Alias.objects.exists()


def test_a_deprecated_version_gets_no_alias(admin_api, versions):
    services.deprecate_version(version=versions[0])

    response = set_alias(admin_api, 1)

    assert response.status_code == 400
    assert "deprecated" in response.json()["model_version"][0]


def test_anonymous_gets_401_and_a_reader_403(api, reader_api, versions):
    alias = services.set_alias(version=versions[0], name="champion")[0]

    assert api.get(ALIASES).status_code == 401
    assert set_alias(api, 2).status_code == 401
    assert reader_api.get(ALIASES).json()["count"] == 1
    assert set_alias(reader_api, 2).status_code == 403
    assert reader_api.delete(f"{ALIASES}{alias.pk}/").status_code == 403
    assert Alias.objects.get().version == versions[0]


def test_moving_an_alias_needs_the_change_permission(client_for, make_user, versions):
    services.set_alias(version=versions[0], name="champion")
    adder = client_for(make_user("adder", perms=["registry.add_alias"]))

    assert set_alias(adder, 2).status_code == 403
    assert set_alias(adder, 2, alias="challenger").status_code == 201
    assert Alias.objects.get(name="champion").version == versions[0]


def test_filters_and_query_count(admin_api, versions, django_assert_max_num_queries):
    for index in range(20):
        services.set_alias(version=versions[index % 3], name=f"alias{index}")

    with django_assert_max_num_queries(8) as small:
        assert len(admin_api.get(ALIASES + "?page_size=2").json()["results"]) == 2
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(admin_api.get(ALIASES + "?page_size=20").json()["results"]) == 20
    found = admin_api.get(ALIASES + "?namespace=/abc_corp/claim&alias=alias4").json()
    assert [a["model_version"] for a in found["results"]] == [2]
