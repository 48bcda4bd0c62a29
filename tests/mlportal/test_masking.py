"""What `mask` hides and `merge_masked` restores: values under secret-looking keys, and the
passwords inside URL-like values (postgres://svc:pw@host/db), wherever they are."""

import pytest

from catalog.models import DataSource
from mlportal.models import ObjectChange
from mlportal.secrets import MASK, mask, merge_masked

URL = "postgres://svc:s3cr3t@db.internal:5432/claims"
MASKED_URL = f"postgres://svc:{MASK}@db.internal:5432/claims"


@pytest.mark.parametrize("value, shown", [
    (URL, MASKED_URL),
    ("mysql://svc:p@ss/w:rd@db/x", f"mysql://svc:{MASK}@db/x"),
    ("jdbc:postgresql://db/claims?user=svc&password=s3cr3t&ssl=true",
     f"jdbc:postgresql://db/claims?user=svc&password={MASK}&ssl=true"),
    ("https://host/path?X-Amz-Signature=abc123&X-Amz-Expires=300",
     f"https://host/path?X-Amz-Signature={MASK}&X-Amz-Expires=300"),
    ("https://acct.blob.core.windows.net/c/m.bin?sv=2022-11-02&sig=abc%2B123",
     f"https://acct.blob.core.windows.net/c/m.bin?sv=2022-11-02&sig={MASK}"),
    (f"primary {URL}, replica redis://:r3d1s@cache:6379/0",
     f"primary {MASKED_URL}, replica redis://:{MASK}@cache:6379/0"),
    ("postgres://svc@db.internal/claims", "postgres://svc@db.internal/claims"),
    ("https://db.internal/claims", "https://db.internal/claims"),
    ("user:notaurl@host", "user:notaurl@host"),
])
def test_passwords_inside_url_like_values_are_masked(value, shown):
    assert mask({"url": value}) == {"url": shown}


def test_urls_are_masked_anywhere_in_a_connection():
    connection = {"urls": [URL, {"nested": URL}], "host": "db", "password": "pw"}

    assert mask(connection) == {"urls": [MASKED_URL, {"nested": MASKED_URL}], "host": "db",
                                "password": MASK}


def test_a_masked_url_sent_back_keeps_the_stored_password():
    stored = {"urls": [URL], "url": URL}

    assert merge_masked(mask(stored), stored) == stored
    # Another host, the password left masked: the stored password, at the new host.
    moved = merge_masked({"url": MASKED_URL.replace("db.internal", "db2.internal")}, stored)
    assert moved == {"url": URL.replace("db.internal", "db2.internal")}
    # A new password replaces it.
    assert merge_masked({"url": URL.replace("s3cr3t", "new")}, stored) == {
        "url": URL.replace("s3cr3t", "new")}


@pytest.mark.django_db
def test_a_url_password_is_masked_in_the_api_and_the_audit_trail_and_kept_when_sent_back(
        admin_api):
    created = admin_api.post("/api/v1/data-sources/", {
        "name": "warehouse", "connection": {"url": URL}}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["connection"] == {"url": MASKED_URL}
    url = f"/api/v1/data-sources/{created.json()['id']}/"

    read = admin_api.get(url).json()
    assert read["connection"] == {"url": MASKED_URL}
    assert admin_api.put(url, read | {"description": "described"},
                         format="json").status_code == 200

    assert DataSource.objects.get().connection == {"url": URL}
    assert "s3cr3t" not in str(list(ObjectChange.objects.values()))


@pytest.mark.django_db
def test_a_url_password_in_a_variable_in_clear_is_masked_and_kept_when_sent_back(admin_api,
                                                                               example):
    from deployments.models import EnvironmentVariable

    assert admin_api.post("/api/v1/models/", example("catalog_model"),
                          format="json").status_code == 201
    assert admin_api.post("/api/v1/versions/", example("model_version"),
                          format="json").status_code == 201
    created = admin_api.post("/api/v1/deployments/", example("deployment") | {
        "model_version": 1, "environment_variables": [{"name": "DATABASE_URL", "value": URL}]},
        format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["environment_variables"] == [
        {"name": "DATABASE_URL", "value": MASKED_URL}]

    url = f"/api/v1/deployments/{created.json()['id']}/"
    sent_back = admin_api.patch(url, {"environment_variables": [
        {"name": "DATABASE_URL", "value": MASKED_URL.replace("5432", "6432")}]}, format="json")

    assert sent_back.status_code == 200, sent_back.json()
    assert EnvironmentVariable.objects.get().value == URL.replace("5432", "6432")
    assert "s3cr3t" not in str(list(ObjectChange.objects.values()))


@pytest.mark.django_db
def test_audit_rows_recorded_before_holding_url_passwords_are_masked_by_the_migration():
    import importlib

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("catalog.migrations.0003_mask_url_passwords_in_audit_rows")
    recorded = ObjectChange.objects.create(
        action="update", content_type=ContentType.objects.get_for_model(DataSource),
        object_id="1", object_repr="warehouse",
        prechange_data={"name": "warehouse", "connection": {"url": URL, "password": MASK}},
        postchange_data={"name": "warehouse", "connection": {"url": URL}})

    state = MigrationExecutor(connection).loader.project_state(
        ("catalog", "0003_mask_url_passwords_in_audit_rows"))
    migration.mask_recorded_url_passwords(state.apps, None)

    recorded.refresh_from_db()
    assert recorded.prechange_data == {"name": "warehouse",
                                       "connection": {"url": MASKED_URL, "password": MASK}}
    assert recorded.postchange_data == {"name": "warehouse", "connection": {"url": MASKED_URL}}
