"""The API's pages: the count and links stay right when a first page counts its own rows."""

import pytest

from catalog.services import save_catalog_model
from registry import services

VERSIONS = "/api/v1/versions/?namespace=/team&model_name=paged"

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_versions(superuser):
    save_catalog_model(namespace="/team", model_name="paged", owner="a@example.com")
    for _ in range(5):
        services.register_version(namespace="/team", model_name="paged", user=superuser)


def count_queries(captured):
    return [query for query in captured.captured_queries if "COUNT(" in query["sql"]]


def test_a_first_page_with_room_to_spare_counts_its_rows_without_a_count_query(
        admin_api, five_versions, django_assert_max_num_queries):
    admin_api.get(VERSIONS)
    for params, expected in (({}, 5), ({"model_version": 3}, 1), ({"alias": "none"}, 0)):
        with django_assert_max_num_queries(7) as captured:
            page = admin_api.get(VERSIONS, params).json()
        assert (page["count"], len(page["results"])) == (expected, expected)
        assert page["next"] is None and page["previous"] is None
        assert not count_queries(captured)


def test_a_full_first_page_and_the_pages_after_it_are_counted(admin_api, five_versions):
    first = admin_api.get(VERSIONS, {"page_size": 2}).json()
    second = admin_api.get(VERSIONS, {"page_size": 2, "page": 2}).json()
    last = admin_api.get(VERSIONS, {"page_size": 2, "page": "last"}).json()
    exact = admin_api.get(VERSIONS, {"page_size": 5}).json()

    assert [page["count"] for page in (first, second, last, exact)] == [5, 5, 5, 5]
    assert "page=2" in first["next"] and first["previous"] is None
    assert len(second["results"]) == 2 and second["next"] and second["previous"]
    assert len(last["results"]) == 1 and last["next"] is None
    assert len(exact["results"]) == 5 and exact["next"] is None
    numbers = [v["model_version"] for p in (first, second, last) for v in p["results"]]
    assert sorted(numbers) == [1, 2, 3, 4, 5]


def test_a_page_past_the_end_is_a_404(admin_api, five_versions):
    assert admin_api.get(VERSIONS, {"page_size": 2, "page": 4}).status_code == 404
    assert admin_api.get(VERSIONS, {"page": 0}).status_code == 404
