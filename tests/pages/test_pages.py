"""The auditors' pages: search, model, data source, change log, and their CSV exports."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.services import save_catalog_model
from mlportal import audit
from mlportal.models import ObjectChange
from mlportal.pages import search
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db

SEARCH = "/search/"
CHANGES = "/changes/"
DOC_MODEL = "/models/abc_corp/claim/doc_classification/"


def shown(response, kind):
    """The rows of a kind's group as the page lists them; None when the kind is not shown."""
    group = next((g for g in response.context["groups"] if g["kind"].key == kind), None)
    if group is None:
        return None
    rows = list(group["rows"])
    keys = {
        "models": lambda m: str(m),
        "versions": lambda v: str(v),
        "data_sources": lambda s: s.name,
        "owners": lambda r: r["owner"],
    }
    return [keys[kind](row) for row in rows]


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


# --- who may see the pages -----------------------------------------------------------------

@pytest.mark.parametrize("url", [SEARCH, f"{SEARCH}export.csv?q=doc", DOC_MODEL,
                                 "/data-sources/crm/", CHANGES, f"{CHANGES}export.csv"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, catalog, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_user_who_is_not_staff_signs_in_and_lands_on_the_search(client, reader):
    response = client.post("/accounts/login/", {"username": "reader",
                                                "password": "reader-password"})

    assert response.status_code == 302 and response["Location"] == SEARCH
    assert client.get(SEARCH).status_code == 200


def test_the_home_page_is_the_search(reader_client):
    assert reader_client.get("/")["Location"] == SEARCH


# --- search ----------------------------------------------------------------------------------

def test_every_kind_is_listed_with_its_count(reader_client, catalog):
    response = reader_client.get(SEARCH)

    assert response.status_code == 200
    counts = {g["kind"].key: g["count"] for g in response.context["groups"]}
    assert counts == {"models": 3, "versions": 3, "deployments": 0, "endpoints": 0,
                      "data_sources": 4, "owners": 3}


@pytest.mark.parametrize(("q", "kind", "expected"), [
    ("doc", "models", ["/abc_corp/claim/doc_classification"]),
    ("classif", "models", ["/abc_corp/claim/doc_classification"]),
    ("fraud", "models", ["/abc_corp/claim/fraud_scoring"]),
    ("xyz_bank", "models", ["/xyz_bank/cards/churn.v2"]),
    ("claim", "models", ["/abc_corp/claim/doc_classification", "/abc_corp/claim/fraud_scoring"]),
    ("renew", "models", ["/xyz_bank/cards/churn.v2"]),
    ("carol", "models", ["/xyz_bank/cards/churn.v2"]),
    ("scores fraud", "models", ["/abc_corp/claim/fraud_scoring"]),
    ("scores renew", "models", []),
    ("retrained", "versions", ["/abc_corp/claim/doc_classification v2",
                               "/abc_corp/claim/doc_classification v1"]),
    ("alice", "versions", ["/abc_corp/claim/doc_classification v2",
                           "/abc_corp/claim/doc_classification v1"]),
    ("fraud_scoring", "versions", ["/abc_corp/claim/fraud_scoring v1"]),
    ("kafka", "data_sources", ["policy events"]),
    ("datawarehouse", "data_sources", ["claim history datawarehouse"]),
    ("bob", "owners", ["bob@example.com"]),
])
def test_the_box_finds_by_words(reader_client, catalog, q, kind, expected):
    response = reader_client.get(SEARCH, {"q": q})

    assert shown(response, kind) == expected


def test_a_kind_is_paginated(reader_client, catalog):
    for index in range(25):
        save_catalog_model(namespace="/bulk", model_name=f"bulk{index:02}")

    first = reader_client.get(SEARCH, {"q": "bulk", "kind": "models"})
    second = reader_client.get(SEARCH, {"q": "bulk", "kind": "models", "page": 2})

    assert [g["kind"].key for g in first.context["groups"]] == ["models"]
    assert len(shown(first, "models")) == 20 and len(shown(second, "models")) == 5
    assert "page 1 of 2" in first.content.decode()
    assert 'href="?q=bulk&amp;kind=models&amp;page=2"' in first.content.decode()


def test_the_overview_shows_a_few_rows_per_kind_and_a_link_to_all(reader_client, catalog):
    for index in range(7):
        save_catalog_model(namespace="/bulk", model_name=f"bulk{index}")

    response = reader_client.get(SEARCH, {"q": "bulk"})

    assert len(shown(response, "models")) == 5
    assert "all 7 →" in response.content.decode()


def test_counts_stop_at_a_limit_and_the_page_says_more_match(reader_client, catalog,
                                                              monkeypatch):
    monkeypatch.setattr(search, "COUNT_LIMIT", 6)
    for index in range(9):
        save_catalog_model(namespace=f"/bulk/n{index % 2}", model_name=f"bulk{index}")

    overview = reader_client.get(SEARCH, {"q": "bulk"})
    listed = reader_client.get(SEARCH, {"q": "bulk", "kind": "models"})

    group = next(g for g in overview.context["groups"] if g["kind"].key == "models")
    assert (group["count"], group["more"]) == (6, True)
    assert "more than 6 →" in overview.content.decode()
    # The page lists the first ones in their order, and counts its facets among them.
    assert shown(listed, "models") == [f"/bulk/n0/bulk{i}" for i in (0, 2, 4, 6, 8)] + [
        "/bulk/n1/bulk1"]
    facets = {f["name"]: {v["value"]: v["count"] for v in f["values"]}
              for f in listed.context["facets"]}
    assert facets["namespace"] == {"/bulk/n0": 5, "/bulk/n1": 1}
    assert "Counted among the first 6 results." in listed.content.decode()


def test_search_costs_the_same_past_the_count_limit(reader_client, catalog, monkeypatch,
                                                    django_assert_max_num_queries):
    """Past the limit, nothing counts or reads every match: the queries are the same ones."""
    monkeypatch.setattr(search, "COUNT_LIMIT", 3)
    save_catalog_model(namespace="/bulk", model_name="bulk0")
    with CaptureQueriesContext(connection) as few:
        reader_client.get(SEARCH, {"q": "bulk"})
        reader_client.get(SEARCH, {"q": "bulk", "kind": "models"})
    for index in range(1, 12):
        save_catalog_model(namespace="/bulk", model_name=f"bulk{index}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        reader_client.get(SEARCH, {"q": "bulk"})
        reader_client.get(SEARCH, {"q": "bulk", "kind": "models"})


def test_facets_count_and_narrow(reader_client, catalog):
    response = reader_client.get(SEARCH, {"kind": "models"})
    facets = {f["name"]: {v["value"]: v["count"] for v in f["values"]}
              for f in response.context["facets"]}
    assert facets["namespace"] == {"/abc_corp/claim": 2, "/xyz_bank/cards": 1}
    assert facets["owner"] == {"alice@example.com": 1, "bob@example.com": 1,
                               "carol@example.com": 1}
    assert facets["data_source_type"] == {"snowflake": 2, "kafka": 1, "postgres": 1}

    narrowed = reader_client.get(SEARCH, {"kind": "models", "data_source_type": "kafka"})
    assert shown(narrowed, "models") == ["/abc_corp/claim/fraud_scoring"]
    within = reader_client.get(SEARCH, {"namespace": "/abc_corp"})
    assert shown(within, "models") == ["/abc_corp/claim/doc_classification",
                                       "/abc_corp/claim/fraud_scoring"]
    assert shown(within, "data_sources") is None  # data sources live in no namespace


def test_data_sources_list_how_many_models_they_feed_with_type_facets(reader_client, catalog):
    response = reader_client.get(SEARCH, {"kind": "data_sources"})

    rows = {source.name: source.model_count for source in response.context["groups"][0]["rows"]}
    assert rows == {"claim history datawarehouse": 2, "crm": 1, "more data source": 1,
                    "policy events": 1}
    types = {v["value"]: v["count"] for v in response.context["facets"][0]["values"]}
    assert types == {"kafka": 1, "postgres": 1, "snowflake": 1}


def test_status_facet_narrows_versions(reader_client, catalog):
    response = reader_client.get(SEARCH, {"status": "deprecated"})

    assert shown(response, "versions") == ["/abc_corp/claim/fraud_scoring v1"]
    assert shown(response, "models") is None


def test_a_date_range_narrows_by_creation(reader_client, catalog):
    ModelVersion.objects.filter(model_version=1, catalog_model=catalog).update(
        create_at="2023-01-01T12:00:00Z")

    response = reader_client.get(SEARCH, {"kind": "versions", "since": "2023-01-01",
                                          "until": "2023-01-01"})

    assert shown(response, "versions") == ["/abc_corp/claim/doc_classification v1"]


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"since": "2024-02-01", "until": "2024-01-01"}, "until"),
    ({"kind": "planets"}, "kind"),
])
def test_bad_search_input_is_a_400_naming_the_field(reader_client, catalog, params, field):
    response = reader_client.get(SEARCH, params)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f"<strong>{field}</strong>" in response.content.decode()


def test_search_exports_csv(reader_client, catalog):
    rows = read_csv(reader_client.get(f"{SEARCH}export.csv", {"q": "doc"}))

    assert [(row["kind"], row["model_name"], row["model_version"]) for row in rows] == [
        ("models", "doc_classification", ""),
        ("versions", "doc_classification", "2"), ("versions", "doc_classification", "1")]
    assert rows[0]["link"] == f"http://testserver{DOC_MODEL}"


def test_search_csv_never_holds_a_formula_or_a_secret(reader_client, catalog):
    save_catalog_model(namespace="/x", model_name="formula", description="=HYPERLINK(1)")

    response = reader_client.get(f"{SEARCH}export.csv")
    content = b"".join(response.streaming_content).decode()

    assert "'=HYPERLINK(1)" in content
    assert "planted-secret" not in content


# --- model page ------------------------------------------------------------------------------

def test_the_model_page_by_natural_key(reader_client, catalog):
    response = reader_client.get(DOC_MODEL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "doc_classification" in page and "alice@example.com" in page
    assert '<a href="/data-sources/claim%20history%20datawarehouse/">' in page
    assert 'id="version-2"' in page and "retrained 2" in page
    assert "The change history is shown to auditors." in page


def test_the_model_page_shows_the_model_card_sanitized(reader_client, catalog):
    catalog.model_card = "# Intended use\n\nTriage of *claims*.\n\n<script>alert(1)</script>"
    catalog.git_repository, catalog.git_path = "https://git.example.com/cards", "doc.md"
    catalog.in_git = True
    catalog.save()

    page = reader_client.get(DOC_MODEL).content.decode()

    assert "<h1>Intended use</h1>" in page and "<em>claims</em>" in page
    assert "<script>alert(1)</script>" not in page
    assert "in Git: <code>doc.md</code> in https://git.example.com/cards" in page


def test_a_model_name_with_dots_and_a_deep_namespace(reader_client, catalog):
    response = reader_client.get("/models/xyz_bank/cards/churn.v2/")

    assert response.status_code == 200
    assert response.context["model"].model_name == "churn.v2"


@pytest.mark.parametrize("url", ["/models/abc_corp/doc_classification/",
                                 "/models/abc_corp/claim/nope/", "/models/nope/",
                                 "/data-sources/nope/"])
def test_an_unknown_key_is_a_404(reader_client, catalog, url):
    assert reader_client.get(url).status_code == 404


def test_an_auditor_sees_the_change_history_of_the_model_and_its_versions(auditor_client,
                                                                        catalog):
    with audit.change_context():
        save_catalog_model(instance=catalog, owner="new-owner@example.com")

    response = auditor_client.get(DOC_MODEL)

    history = list(response.context["history"])
    assert [(c.action, c.object_repr) for c in history][:1] == [
        ("update", "/abc_corp/claim/doc_classification")]
    assert {c.object_repr for c in history} >= {"/abc_corp/claim/doc_classification v1",
                                                "/abc_corp/claim/doc_classification v2"}
    assert "/abc_corp/claim/fraud_scoring" not in {c.object_repr for c in history}
    page = response.content.decode()
    assert "new-owner@example.com" in page


def test_the_model_page_costs_the_same_for_more_versions_and_sources(
        auditor_client, catalog, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        auditor_client.get(DOC_MODEL)
    for number in range(3, 40):
        ModelVersion.objects.create(catalog_model=catalog, model_version=number)
    for index in range(5):
        save_catalog_model(instance=catalog, data_sources=[
            {"name": f"extra{i}"} for i in range(index + 3)])

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = auditor_client.get(DOC_MODEL)
    assert len(response.context["versions"]) == 20


# --- data source page ------------------------------------------------------------------------

def test_the_data_source_page_lists_the_models_it_feeds_and_masks_secrets(reader_client,
                                                                           catalog):
    response = reader_client.get("/data-sources/claim history datawarehouse/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "planted-secret" not in page and "********" in page
    assert [str(m) for m in response.context["models"]] == [
        "/abc_corp/claim/doc_classification", "/abc_corp/claim/fraud_scoring"]


def test_the_data_source_page_costs_the_same_for_more_models(reader_client, catalog,
                                                             django_assert_max_num_queries):
    url = "/data-sources/crm/"
    with CaptureQueriesContext(connection) as few:
        reader_client.get(url)
    for index in range(15):
        save_catalog_model(namespace=f"/n{index}", model_name="m",
                           data_sources=[{"name": "crm"}])

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(reader_client.get(url).context["models"]) == 16


# --- change log ------------------------------------------------------------------------------

def test_the_change_log_is_for_auditors(reader_client, catalog):
    response = reader_client.get(CHANGES)

    assert response.status_code == 403
    assert "The change log is for auditors." in response.content.decode()
    assert reader_client.get(f"{CHANGES}export.csv").status_code == 403


def test_the_change_log_filters_like_the_api(auditor_client, catalog):
    response = auditor_client.get(CHANGES, {"object_type": "modelversion",
                                            "namespace": "/abc_corp"})

    assert response.status_code == 200
    assert {c.object_repr for c in response.context["page"]} == {
        "/abc_corp/claim/doc_classification v1", "/abc_corp/claim/doc_classification v2",
        "/abc_corp/claim/fraud_scoring v1"}


def test_a_bad_change_log_filter_is_a_400_naming_it(auditor_client, catalog):
    response = auditor_client.get(CHANGES, {"since": "soon"})

    assert response.status_code == 400
    assert "Give a date (2024-01-31)" in response.content.decode()


def test_the_change_log_exports_csv_with_secrets_masked(auditor_client, catalog):
    rows = read_csv(auditor_client.get(f"{CHANGES}export.csv", {"object_type": "datasource"}))

    assert {row["object"] for row in rows} == {
        "claim history datawarehouse", "more data source", "policy events", "crm"}
    assert all(row["user"] == "root" and row["source"] == "api" for row in rows)
    assert not any("planted-secret" in value for row in rows for value in row.values())
    assert any('"password": "********"' in row["after"] for row in rows)


def test_the_change_log_costs_the_same_for_more_changes(auditor_client, catalog,
                                                        django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        auditor_client.get(CHANGES)
    for index in range(40):
        save_catalog_model(namespace="/more", model_name=f"m{index}")
    assert ObjectChange.objects.count() > 50

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(auditor_client.get(CHANGES).context["page"]) == 50


def test_search_costs_the_same_for_more_results(reader_client, catalog,
                                                django_assert_max_num_queries):
    def visit():
        for params in ({}, {"q": "bulk"}, {"kind": "models"}, {"kind": "versions"},
                       {"kind": "data_sources"}, {"kind": "owners"}):
            assert reader_client.get(SEARCH, params).status_code == 200

    def add_bulk(index):
        model = save_catalog_model(namespace=f"/bulk/n{index}", model_name=f"bulk{index}",
                                   owner=f"owner{index}@example.com",
                                   data_sources=[{"name": f"bulk source {index}"}])
        ModelVersion.objects.create(catalog_model=model, model_version=1)

    add_bulk(0)
    with CaptureQueriesContext(connection) as few:
        visit()
    for index in range(1, 25):
        add_bulk(index)

    with django_assert_max_num_queries(len(few.captured_queries)):
        visit()


def test_the_admin_links_to_the_search_pages(admin_client):
    assert b'<a href="/search/">Search pages</a>' in admin_client.get("/admin/").content
