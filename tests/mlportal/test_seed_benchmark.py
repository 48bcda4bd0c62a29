"""manage.py seed_benchmark: the rows, their audit records as the app writes them, and a
registry that works on (PostgreSQL only: the database generates the rows)."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.models import CatalogModel, Namespace, mlflow_name
from deployments import services as deployment_services
from deployments.models import Deployment, Endpoint, StatusChange
from mlportal import access, audit
from mlportal.models import ObjectChange
from registry import services
from registry.models import Alias, Artifact, ModelVersion, Tag, VersionCounter

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="seed_benchmark generates its rows in PostgreSQL"),
]

AUDITED = (Namespace, CatalogModel, ModelVersion, Artifact, Tag, Alias, Endpoint, Deployment)


def seed(**sizes):
    call_command("seed_benchmark", **({"models": 20, "versions": 90, "deployments": 30,
                                       "namespaces": 3, "big_model_versions": 15} | sizes))


def indexes_and_constraints():
    tables = [model._meta.db_table for model in (*AUDITED, StatusChange, VersionCounter,
                                                 ObjectChange)]
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = ANY(%s::regclass[])
            UNION ALL
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = ANY(%s::regclass[])""", [tables, tables])
        return sorted(cursor.fetchall())


def test_it_writes_the_sizes_asked_for_and_audits_every_row():
    seed()

    assert CatalogModel.objects.count() == 21
    assert ModelVersion.objects.count() == 90 + 15
    assert Artifact.objects.count() == Tag.objects.count() == 105
    assert Alias.objects.count() == VersionCounter.objects.count() == 21
    # 30 over 20 models (+2 for the big one), at one endpoint per model.
    assert Deployment.objects.count() == 32
    assert Endpoint.objects.count() == 21
    assert Deployment.objects.active().count() == 21
    # Recorded active; each but a model's last one retired later.
    assert StatusChange.objects.count() == 32 + 11
    audited = ObjectChange.objects.values_list("content_type__model", flat=True)
    assert sorted(set(audited)) == ["alias", "artifact", "catalogmodel", "deployment",
                                    "endpoint", "modelversion", "namespace", "tag"]
    assert ObjectChange.objects.count() == 5 + 21 + 3 * 105 + 21 + 21 + 32 + 11


def test_the_models_store_their_mlflow_names():
    seed()

    names = CatalogModel.objects.values_list("namespace__path", "model_name", "mlflow_name")
    assert {stored == mlflow_name(path, name) for path, name, stored in names} == {True}


def test_audit_records_are_those_the_app_writes():
    seed()

    for model in AUDITED:
        for row in model.objects.all():
            changes = list(ObjectChange.objects.filter(
                content_type__model=model._meta.model_name, object_id=str(row.pk))
                .order_by("time", "pk"))
            assert changes[0].action == "create", row
            last = changes[-1]
            assert last.postchange_data == audit.snapshot(row), row
            assert last.object_repr == str(row)[:200]
            assert last.namespace == (access.namespace_path(row) or "")
            parent = audit.parent_of(row)
            assert last.related_object_id == (str(parent.pk) if parent else "")
            assert last.principal == "seed_benchmark" and last.source == "command"
            if len(changes) > 1:
                assert changes[1].prechange_data == changes[0].postchange_data


def test_deployments_replace_each_other_at_their_endpoint():
    seed()
    model = CatalogModel.objects.get(model_name="model-000000")
    first, second = model.deployments.order_by("deployment_id")

    assert (first.status, first.active_until, first.replaced_by) == (
        "retired", second.active_from, second)
    assert list(first.status_history.values_list("status", "reason")) == [
        ("active", "recorded"), ("retired", f"replaced by {second}")]
    assert second.is_active and model.aliases.get().version == second.model_version
    assert list(Deployment.objects.filter(endpoint=second.endpoint)
                .active_at(first.active_from)) == [first]


def test_it_rebuilds_every_index_and_constraint_it_dropped():
    before = indexes_and_constraints()
    seed()

    assert indexes_and_constraints() == before


def test_registration_and_deployment_go_on_after_the_seeded_rows():
    seed()
    big = services.find_catalog_model("/seed/big", "big_model")

    version = services.register_version(namespace="/seed/big", model_name="big_model")
    assert version.model_version == 16
    assert sorted(big.versions.values_list("model_version", flat=True)) == list(range(1, 17))
    serving = Deployment.objects.active().get(catalog_model=big)
    deployed = deployment_services.record_deployment(
        model_version=version, endpoint=serving.endpoint, deployment_method="eks",
        rolling_strategy="blue_green")
    assert deployed.deployment_id == 3
    serving.refresh_from_db()
    assert serving.replaced_by == deployed


def test_scale_multiplies_every_size():
    seed(models=200, versions=400, deployments=100, namespaces=10, scale=0.1)

    assert CatalogModel.objects.count() == 20 + 1
    assert ModelVersion.objects.count() == 40 + 15


def test_it_refuses_a_database_it_has_seeded():
    seed()
    with pytest.raises(CommandError, match="exists already"):
        seed()
