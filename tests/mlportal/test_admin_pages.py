"""Every admin changelist, add page and change page renders, at a fixed query cost. Every
registered model has a row, so that every change page is rendered."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import CatalogModel, CatalogSource
from catalog.services import request_sync, save_catalog_model, save_grant
from catalog.tasks import run_catalog_sync
from deployments.services import record_deployment
from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token, save_subscription, send_test_event
from registry.services import link_artifact, register_version, set_alias, set_model_tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    for index in range(3):
        save_catalog_model(
            namespace=f"/team{index}/claims", model_name=f"model{index}",
            owner=f"owner{index}@example.com",
            data_sources=[{"name": f"source{index}", "type": "snowflake",
                           "connection": {"password": "planted-secret"}}, {"name": "shared"}],
        )


@pytest.fixture
def every_model(catalog, admin_user, django_user_model):
    """A row of every model the admin shows, beside the catalog: a version with an artifact
    and an alias, a model tag, a deployment with a secret (and its endpoint), a grant, a
    token, a group, a catalog source."""
    version = register_version(namespace="/team0/claims", model_name="model0")
    link_artifact(version=version, name="weights", uri="s3://bucket/team0/weights.bin")
    set_alias(version=version, name="champion")
    set_model_tag(catalog_model=version.catalog_model, key="framework", value="sklearn")
    record_deployment(model_version=version, endpoint="https://team0.example.com/predict",
                      deployment_method="ecs", rolling_strategy="blue_green",
                      environment_variables=[{"name": "DB_PASSWORD", "secret": True,
                                              "value": "planted-secret"}])
    group = Group.objects.create(name="team0")
    save_grant(namespace="/team0", group=group, role="editor")
    save_new_token(Token(user=admin_user))
    source = CatalogSource.objects.create(repository="https://git.example.com/cards.git",
                                          ref="main")
    # A sync, its task on the queue, a webhook subscription and a delivery (no worker runs).
    sync = request_sync(source=source, trigger="admin", user=admin_user)
    run_catalog_sync.enqueue(sync.pk)
    subscription = save_subscription(namespace="/team0", url="https://hooks.example.com/in")
    send_test_event(subscription=subscription)


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize("model", [model for model, _ in registered()],
                         ids=lambda model: model._meta.label)
def test_changelist_add_and_change_pages_render(admin_client, every_model, model):
    opts = model._meta
    base = f"admin:{opts.app_label}_{opts.model_name}"

    changelist = admin_client.get(reverse(f"{base}_changelist"))
    assert changelist.status_code == 200

    model_admin = admin.site._registry[model]
    request = changelist.wsgi_request
    if model_admin.has_add_permission(request):
        assert admin_client.get(reverse(f"{base}_add")).status_code == 200
    obj = model_admin.get_queryset(request).first()
    assert obj is not None, f"Give {opts.label} a row in the every_model fixture"
    change = admin_client.get(reverse(f"{base}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert b"planted-secret" not in change.content


def test_catalog_changelist_costs_the_same_for_3_or_30_rows(admin_client, catalog,
                                                            django_assert_max_num_queries):
    url = reverse("admin:catalog_catalogmodel_changelist")
    admin_client.get(url)  # warm the session and content type caches
    with CaptureQueriesContext(connection) as three_rows:
        assert admin_client.get(url).context["cl"].result_count == 3
    for index in range(27):
        save_catalog_model(namespace="/bulk", model_name=f"bulk{index}",
                           data_sources=[{"name": "shared"}])

    with django_assert_max_num_queries(len(three_rows.captured_queries)):
        assert admin_client.get(url).context["cl"].result_count == 30


def test_catalog_changelist_search_finds_by_data_source_name(admin_client, catalog):
    response = admin_client.get(reverse("admin:catalog_catalogmodel_changelist") + "?q=source1")
    assert [str(m) for m in response.context["cl"].result_list] == ["/team1/claims/model1"]


def test_an_invalid_inference_schema_is_shown_on_the_form(admin_client, catalog):
    model = CatalogModel.objects.get(model_name="model0")
    url = reverse("admin:catalog_catalogmodel_change", args=[model.pk])
    form = {
        "namespace": model.namespace_id, "model_name": "model0", "owner": "", "url": "",
        "description": "", "inference_input_description": "",
        "inference_input_schema": '{"type": "no-such-type"}',
        "inference_output_description": "", "inference_output_schema": "{}",
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    }

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert "Not a valid JSON Schema" in response.content.decode()
    model.refresh_from_db()
    assert model.inference_input_schema == {}


def test_the_masked_connection_submitted_back_keeps_the_secret(admin_client, catalog):
    from catalog.models import DataSource

    source = DataSource.objects.get(name="source0")
    url = reverse("admin:catalog_datasource_change", args=[source.pk])
    page = admin_client.get(url)
    assert "planted-secret" not in page.content.decode()

    response = admin_client.post(url, {
        "name": "source0", "type": "snowflake", "description": "now described", "owner": "",
        "connection": '{"password": "********"}',
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    })

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.description == "now described"
    assert source.connection == {"password": "planted-secret"}


def test_admin_edits_are_audited(admin_client, catalog):
    model = CatalogModel.objects.get(model_name="model0")
    admin_client.post(reverse("admin:catalog_catalogmodel_change", args=[model.pk]), {
        "namespace": model.namespace_id, "model_name": "model0", "owner": "new@example.com",
        "url": "", "description": "", "inference_input_description": "",
        "inference_input_schema": "{}", "inference_output_description": "",
        "inference_output_schema": "{}",
        "modeldatasource_set-TOTAL_FORMS": "0", "modeldatasource_set-INITIAL_FORMS": "0",
    })

    change = ObjectChange.objects.get(object_id=str(model.pk), action="update", source="admin")
    assert change.user_name == "admin"
    assert change.source == "admin"
    assert change.prechange_data["owner"] == "owner0@example.com"
    assert change.postchange_data["owner"] == "new@example.com"
