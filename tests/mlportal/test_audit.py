"""The audit trail records every write, whichever path makes it, and is never edited."""

import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from catalog.models import CatalogModel, DataSource, ModelDataSource, Namespace
from catalog.services import save_catalog_model, save_data_source
from mlportal import audit
from mlportal.models import AuditTrailIsReadOnly, ObjectChange, Token

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"


def changes_of(obj):
    return list(ObjectChange.objects.filter(
        content_type__model=obj._meta.model_name, object_id=str(obj.pk)
    ).order_by("time", "id"))


def model_form(model, **fields):
    """The admin's change form for a catalog model, as a browser posts it."""
    links = list(ModelDataSource.objects.filter(catalog_model=model)) if model else []
    form = {
        "namespace": model.namespace_id if model else "", "model_name": "",
        "owner": "", "url": "", "description": "", "inference_input_description": "",
        "inference_input_schema": "{}", "inference_output_description": "",
        "inference_output_schema": "{}",
        "modeldatasource_set-TOTAL_FORMS": str(len(links)),
        "modeldatasource_set-INITIAL_FORMS": str(len(links)),
    }
    if model:
        form |= {"model_name": model.model_name, "owner": model.owner}
    for index, link in enumerate(links):
        form |= {f"modeldatasource_set-{index}-id": link.pk,
                 f"modeldatasource_set-{index}-catalog_model": model.pk,
                 f"modeldatasource_set-{index}-data_source": link.data_source_id}
    return form | fields


# --- through the API ---------------------------------------------------------------------

def test_an_api_create_is_one_record_with_the_whole_document(admin_api, example):
    response = admin_api.post(MODELS, example("catalog_model"), format="json")

    model = CatalogModel.objects.get()
    [change] = changes_of(model)
    assert change.action == "create"
    assert change.user_name == "root"
    assert change.source == "api"
    assert str(change.request_id) == response["X-Request-ID"]
    assert change.namespace == "/abc_corp/claim"
    assert change.object_repr == "/abc_corp/claim/doc_classification"
    assert change.prechange_data is None
    assert change.postchange_data["owner"] == "alice@example.com"
    assert change.postchange_data["data_sources"] == [
        "claim history datawarehouse", "more data source"]


def test_one_request_shares_one_request_id(admin_api, example):
    response = admin_api.post(MODELS, example("catalog_model"), format="json")

    grouped = ObjectChange.objects.filter(request_id=response["X-Request-ID"])
    assert sorted(change.object_repr for change in grouped) == [
        "/abc_corp", "/abc_corp/claim", "/abc_corp/claim/doc_classification",
        "claim history datawarehouse", "more data source"]


def test_an_api_update_keeps_before_and_after(admin_api, example):
    model_id = admin_api.post(MODELS, example("catalog_model"), format="json").data["id"]

    admin_api.patch(f"{MODELS}{model_id}/", {
        "owner": "bob@example.com", "data_sources": [{"name": "more data source"}]
    }, format="json")

    [_, change] = changes_of(CatalogModel.objects.get())
    assert change.action == "update"
    assert change.prechange_data["owner"] == "alice@example.com"
    assert change.postchange_data["owner"] == "bob@example.com"
    assert change.prechange_data["data_sources"] == [
        "claim history datawarehouse", "more data source"]
    assert change.postchange_data["data_sources"] == ["more data source"]


def test_an_api_delete_keeps_what_was_deleted_and_nothing_else(admin_api, example):
    model_id = admin_api.post(MODELS, example("catalog_model"), format="json").data["id"]
    model = CatalogModel.objects.get()

    assert admin_api.delete(f"{MODELS}{model_id}/").status_code == 204

    [_, change] = changes_of(model)
    assert change.action == "delete"
    assert change.prechange_data["data_sources"] == [
        "claim history datawarehouse", "more data source"]
    assert change.postchange_data is None


def test_a_client_names_its_principal_in_a_header(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json",
                   HTTP_X_PRINCIPAL="arn:aws:iam::123456789012:role/training")

    [change] = changes_of(CatalogModel.objects.get())
    assert change.principal == "arn:aws:iam::123456789012:role/training"
    assert change.user_name == "root"


def test_an_overlong_principal_is_refused_before_anything_is_written(admin_api, example):
    response = admin_api.post(MODELS, example("catalog_model"), format="json",
                              HTTP_X_PRINCIPAL="x" * 256)

    assert response.status_code == 400
    assert response.json() == {"X-Principal": ["At most 255 characters."]}
    assert not CatalogModel.objects.exists()


def test_code_names_the_principal_for_the_current_request(superuser):
    with audit.change_context(user=superuser, source="api"):
        audit.set_principal("arn:aws:iam::123456789012:user/alice")
        model = save_catalog_model(namespace="/a", model_name="m")

    assert changes_of(model)[0].principal == "arn:aws:iam::123456789012:user/alice"


def test_a_read_only_request_writes_nothing(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")
    count = ObjectChange.objects.count()

    admin_api.get(MODELS)
    admin_api.post(f"{MODELS}{CatalogModel.objects.get().pk}/validate-input/", {},
                   format="json")

    assert ObjectChange.objects.count() == count


# --- through the admin -------------------------------------------------------------------

def test_an_admin_create_with_a_data_source_is_one_record(admin_client):
    namespace = Namespace.objects.create(path="/team")
    source = DataSource.objects.create(name="warehouse")
    form = model_form(None, namespace=namespace.pk, model_name="triage") | {
        "modeldatasource_set-TOTAL_FORMS": "1",
        "modeldatasource_set-0-data_source": source.pk,
    }

    response = admin_client.post(reverse("admin:catalog_catalogmodel_add"), form)

    assert response.status_code == 302
    [change] = changes_of(CatalogModel.objects.get())
    assert (change.action, change.source, change.user_name) == ("create", "admin", "admin")
    assert change.postchange_data["data_sources"] == ["warehouse"]


def test_removing_a_data_source_in_the_admin_is_an_update_of_the_model(admin_client):
    model = save_catalog_model(namespace="/team", model_name="triage",
                               data_sources=[{"name": "warehouse"}, {"name": "lake"}])
    form = model_form(model) | {"modeldatasource_set-0-DELETE": "on"}

    admin_client.post(reverse("admin:catalog_catalogmodel_change", args=[model.pk]), form)

    change = changes_of(model)[-1]
    assert (change.action, change.source) == ("update", "admin")
    assert change.prechange_data["data_sources"] == ["lake", "warehouse"]
    assert len(change.postchange_data["data_sources"]) == 1


def test_an_admin_delete_is_recorded(admin_client):
    source = DataSource.objects.create(name="unused", connection={"password": "hunter2"})

    admin_client.post(reverse("admin:catalog_datasource_delete", args=[source.pk]),
                      {"post": "yes"})

    [_, change] = changes_of(source)
    assert (change.action, change.source, change.user_name) == ("delete", "admin", "admin")
    assert change.prechange_data["name"] == "unused"
    assert change.prechange_data["connection"] == {"password": "********"}


# --- through a management command --------------------------------------------------------

def test_a_command_records_its_changes_as_one_group(capsys):
    call_command("load_demo")

    changes = ObjectChange.objects.exclude(content_type__model="token")
    created = changes.filter(content_type__model="catalogmodel", action="create")
    assert created.count() == 5
    assert {(c.source, c.principal) for c in changes} == {("command", "load_demo")}
    assert len({c.request_id for c in created}) == 1
    assert None not in {c.request_id for c in changes}


# --- what is recorded ----------------------------------------------------------------------

def test_secrets_never_reach_the_audit_trail():
    with audit.change_context():
        source = save_data_source(name="crm", connection={"host": "db", "password": "hunter2"})
        save_data_source(instance=source, connection={"host": "db2", "password": "s3cr3t"})
    save_catalog_model(namespace="/a", model_name="m",
                       data_sources=[{"name": "lake", "connection": {"api_key": "k-123"}}])

    dumped = json.dumps([[c.prechange_data, c.postchange_data]
                         for c in ObjectChange.objects.all()])
    assert "hunter2" not in dumped and "s3cr3t" not in dumped and "k-123" not in dumped
    assert changes_of(source)[0].postchange_data["connection"] == {
        "host": "db2", "password": "********"}


def test_repeated_saves_in_one_request_fold_into_one_record():
    model = save_catalog_model(namespace="/a", model_name="m", owner="a@example.com")

    with audit.change_context():
        save_catalog_model(instance=model, owner="b@example.com")
        save_catalog_model(instance=model, owner="c@example.com", description="now described")

    [_, change] = changes_of(model)
    assert change.prechange_data["owner"] == "a@example.com"
    assert change.postchange_data["owner"] == "c@example.com"
    assert change.postchange_data["description"] == "now described"


def test_a_create_then_update_in_one_request_is_one_create():
    with audit.change_context():
        model = save_catalog_model(namespace="/a", model_name="m")
        save_catalog_model(instance=model, owner="b@example.com")

    [change] = changes_of(model)
    assert change.action == "create"
    assert change.postchange_data["owner"] == "b@example.com"


def test_a_delete_keeps_a_record_of_its_own_after_an_update_in_the_same_request():
    model = save_catalog_model(namespace="/a", model_name="m")

    with audit.change_context():
        save_catalog_model(instance=model, owner="b@example.com")
        model_pk = model.pk
        model.delete()
        model.pk = model_pk

    assert [c.action for c in changes_of(model)] == ["create", "update", "delete"]
    assert changes_of(model)[-1].prechange_data["owner"] == "b@example.com"


def test_separate_requests_are_separate_records():
    model = save_catalog_model(namespace="/a", model_name="m")

    for owner in ["b@example.com", "c@example.com"]:
        with audit.change_context():
            save_catalog_model(instance=model, owner=owner)

    assert [c.action for c in changes_of(model)] == ["create", "update", "update"]
    assert len({c.request_id for c in changes_of(model)}) == 3


def test_a_change_rolled_back_with_its_savepoint_leaves_no_trace():
    model = save_catalog_model(namespace="/a", model_name="m", owner="a@example.com")

    with audit.change_context():
        with pytest.raises(RuntimeError), transaction.atomic():
            save_catalog_model(instance=model, owner="rolled-back@example.com")
            raise RuntimeError
        model.refresh_from_db()
        save_catalog_model(instance=model, owner="c@example.com")

    [_, change] = changes_of(model)
    assert change.prechange_data["owner"] == "a@example.com"
    assert change.postchange_data["owner"] == "c@example.com"


def test_a_save_that_changes_nothing_is_not_recorded():
    model = save_catalog_model(namespace="/a", model_name="m")

    save_catalog_model(instance=model, owner="")

    assert len(changes_of(model)) == 1


@pytest.mark.parametrize("how", ["forward add", "reverse add", "remove", "clear",
                                 "delete the link"])
def test_every_way_of_linking_a_data_source_is_an_update_of_the_model(how):
    model = save_catalog_model(namespace="/a", model_name="m", data_sources=[{"name": "kept"}])
    source = DataSource.objects.create(name="other")
    if how in ("remove", "clear", "delete the link"):
        model.data_sources.add(source)
    expected_before = sorted(s.name for s in model.data_sources.all())

    with audit.change_context():
        if how == "forward add":
            model.data_sources.add(source)
        elif how == "reverse add":
            source.models.add(model)
        elif how == "remove":
            model.data_sources.remove(source)
        elif how == "clear":
            source.models.clear()
        else:
            ModelDataSource.objects.filter(data_source=source).delete()

    change = changes_of(model)[-1]
    assert change.action == "update"
    assert change.prechange_data["data_sources"] == expected_before
    expected_after = ["kept", "other"] if "add" in how else ["kept"]
    assert change.postchange_data["data_sources"] == expected_after


def test_deleting_models_with_a_queryset_records_each_delete_only():
    for name in ["m1", "m2"]:
        save_catalog_model(namespace="/a", model_name=name, data_sources=[{"name": "lake"}])
    before = ObjectChange.objects.count()

    CatalogModel.objects.all().delete()

    assert list(ObjectChange.objects.order_by("id").values_list("action", flat=True))[
        before:] == ["delete", "delete"]


def test_tokens_are_audited_without_their_digest(superuser):
    with audit.change_context(user=superuser):
        token = Token(user=superuser, description="ci")
        key = Token.set_new_key(token)
        token.save()

    [change] = changes_of(token)
    assert change.postchange_data["prefix"] == key[:10]
    assert token.digest not in json.dumps(change.postchange_data)


# --- read-only -----------------------------------------------------------------------------

@pytest.fixture
def change():
    save_catalog_model(namespace="/a", model_name="m")
    return ObjectChange.objects.filter(content_type__model="catalogmodel").get()


def test_a_recorded_change_cannot_be_edited_or_deleted(change):
    change.object_repr = "forged"
    with pytest.raises(AuditTrailIsReadOnly):
        change.save()
    with pytest.raises(AuditTrailIsReadOnly):
        change.delete()
    with pytest.raises(AuditTrailIsReadOnly):
        ObjectChange.objects.update(object_repr="forged")
    with pytest.raises(AuditTrailIsReadOnly):
        ObjectChange.objects.all().delete()
    assert ObjectChange.objects.get(pk=change.pk).object_repr == "/a/m"


def test_the_admin_shows_changes_but_offers_no_edit_or_delete(admin_client, change):
    base = "admin:mlportal_objectchange"
    page = admin_client.get(reverse(f"{base}_change", args=[change.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content

    assert admin_client.post(reverse(f"{base}_change", args=[change.pk]),
                             {"object_repr": "forged"}).status_code == 403
    assert admin_client.post(reverse(f"{base}_delete", args=[change.pk]),
                             {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse(f"{base}_add")).status_code == 403
    assert ObjectChange.objects.get(pk=change.pk).object_repr == "/a/m"


def test_deleting_a_user_keeps_their_changes_under_their_name(make_user, grant):
    user = make_user("leaver")
    grant(user, "/a")
    with audit.change_context(user=user):
        model = save_catalog_model(namespace="/a", model_name="m")

    user.delete()

    [change] = changes_of(model)
    assert change.user is None and change.user_name == "leaver"


# --- every model, every path ---------------------------------------------------------------

# Rows recorded otherwise: a model's data source links as updates of the model, a
# deployment's status steps as updates of the deployment; the trail itself; an upload's
# reservation of its name, which lasts while the file streams (the artifact is audited).
# Records of their own: events (a log like the trail), webhook deliveries and catalog syncs
# (each a log row of work done, whose changes are audited where they happen).
NOT_AUDITED_ON_THEIR_OWN = {"catalog.ModelDataSource", "deployments.StatusChange",
                            "mlportal.ObjectChange", "registry.ArtifactUpload",
                            "mlportal.Event", "mlportal.WebhookDelivery", "catalog.CatalogSync"}


def test_every_model_of_the_portal_is_audited():
    from django.apps import apps

    portal = [model for model in apps.get_models()
              if model._meta.app_label in {"mlportal", "catalog", "registry", "deployments"}]

    assert {model._meta.label for model in portal
            if not getattr(model, "audited", False)} == NOT_AUDITED_ON_THEIR_OWN


def test_the_demo_command_records_versions_artifacts_and_deployments(capsys):
    call_command("load_demo")

    recorded = set(ObjectChange.objects.filter(source="command", principal="load_demo")
                   .values_list("content_type__model", flat=True))
    assert recorded >= {"catalogmodel", "modelversion", "artifact", "alias", "tag",
                        "deployment", "environmentvariable"}


def test_a_version_records_the_principal_its_document_names(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")

    response = admin_api.post("/api/v1/versions/", example("model_version"), format="json",
                              HTTP_X_PRINCIPAL="arn:aws:iam::123456789012:role/ci")

    assert response.status_code == 201, response.content
    grouped = ObjectChange.objects.filter(request_id=response["X-Request-ID"])
    assert sorted(c.object_type for c in grouped) == [
        "registry.artifact", "registry.artifact", "registry.modelversion"]
    assert {c.principal for c in grouped} == {"arn:aws:iam::123456789012:user/alice"}


def test_a_deployment_records_the_header_principal_and_masks_secrets(admin_api, example):
    admin_api.post(MODELS, example("catalog_model"), format="json")
    version = example("model_version") | {"model_version": 3}
    admin_api.post("/api/v1/versions/", version, format="json")
    document = example("deployment") | {"environment_variables": [
        {"name": "FOO", "value": "BAR"}, {"name": "DB_PASSWORD", "value": "hunter2"}]}

    response = admin_api.post("/api/v1/deployments/", document, format="json",
                              HTTP_X_PRINCIPAL="arn:aws:iam::123456789012:role/cd")

    assert response.status_code == 201, response.content
    grouped = ObjectChange.objects.filter(request_id=response["X-Request-ID"])
    assert {c.principal for c in grouped} == {"arn:aws:iam::123456789012:role/cd"}
    variables = {c.postchange_data["name"]: c.postchange_data["value"] for c in grouped
                 if c.object_type == "deployments.environmentvariable"}
    assert variables == {"FOO": "BAR", "DB_PASSWORD": "********"}
    [deployment] = [c for c in grouped if c.object_type == "deployments.deployment"]
    assert deployment.action == "create" and deployment.postchange_data["status"] == "active"


def test_every_change_under_a_catalog_model_names_it_as_related_object(capsys):
    call_command("load_demo")
    model = CatalogModel.objects.get(model_name="doc_classification")

    under_model = ObjectChange.objects.filter(related_object_id=str(model.pk))
    kinds = set(under_model.values_list("content_type__model", flat=True))
    assert kinds == {"catalogmodel", "modelversion", "artifact", "alias", "tag",
                     "deployment", "environmentvariable"}
    assert {c.related_object_type.model for c in under_model} == {"catalogmodel"}
    assert set(ObjectChange.objects.filter(content_type__model__in=[
        "namespace", "datasource"]).values_list("related_object_id", flat=True)) == {""}


def test_a_models_history_keeps_the_changes_of_rows_since_deleted(superuser, example):
    from registry.models import Alias, ModelVersion
    from registry.services import set_alias

    with audit.change_context(user=superuser):
        model = save_catalog_model(**example("catalog_model"))
        version = ModelVersion.objects.create(catalog_model=model, model_version=1)
        set_alias(version=version, name="champion")
        Alias.objects.get(name="champion").delete()

    history = ObjectChange.objects.history_of(model)
    assert [(c.object_type, c.action) for c in history.order_by("time", "id")] == [
        ("catalog.catalogmodel", "create"), ("registry.modelversion", "create"),
        ("registry.alias", "create"), ("registry.alias", "delete")]


def test_a_models_history_is_one_query_on_its_index(superuser, example,
                                                     django_assert_num_queries):
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    with audit.change_context(user=superuser):
        model = save_catalog_model(**example("catalog_model"))
    ContentType.objects.get_for_model(model)  # cached, as in a running portal

    with django_assert_num_queries(1):
        assert len(ObjectChange.objects.history_of(model)) == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = ObjectChange.objects.history_of(model).explain()
        assert "objectchange_history" in plan


def test_the_migration_backfills_the_related_object_of_existing_changes(capsys):
    from django.apps import apps
    from django.db import models

    call_command("load_demo")
    before = dict(ObjectChange.objects.values_list("pk", "related_object_id"))
    # As recorded before the parent key existed.
    models.QuerySet.update(ObjectChange.objects.all(), related_object_type=None,
                           related_object_id="")

    audit.backfill_parents(apps, "catalog.CatalogModel", {
        "catalog.CatalogModel": "pk",
        "registry.ModelVersion": "catalog_model_id",
        "registry.Artifact": "version__catalog_model_id",
        "registry.Alias": "catalog_model_id",
        "registry.Tag": "version__catalog_model_id",
        "deployments.Deployment": "catalog_model_id",
        "deployments.EnvironmentVariable": "deployment__catalog_model_id",
    })

    assert dict(ObjectChange.objects.values_list("pk", "related_object_id")) == before
    assert any(before.values())
