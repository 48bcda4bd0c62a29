"""Audit rows recorded before passwords inside URLs were masked (issue 16) may hold them in
clear: a data source's connection (postgres://svc:pw@host/db) or an environment variable's
value. Mask them, as they are masked when recorded now. The one edit ever made to the audit
trail: it removes credentials and changes nothing else."""

from django.db import migrations

from mlportal.secrets import mask, mask_text

# (app label, model) -> how to mask the recorded document of such a row.
MASKERS = {
    ("catalog", "datasource"): lambda data: data | (
        {"connection": mask(data["connection"])} if "connection" in data else {}),
    ("deployments", "environmentvariable"): lambda data: data | (
        {"value": mask_text(data["value"])} if isinstance(data.get("value"), str) else {}),
}


def mask_recorded_url_passwords(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ObjectChange = apps.get_model("mlportal", "ObjectChange")
    for (app_label, model), masker in MASKERS.items():
        content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
        if content_type is None:
            continue
        for change in ObjectChange.objects.filter(content_type=content_type).iterator():
            masked = {
                name: masker(data) if isinstance(data, dict) else data
                for name in ("prechange_data", "postchange_data")
                for data in [getattr(change, name)]
            }
            if any(masked[name] != getattr(change, name) for name in masked):
                ObjectChange.objects.filter(pk=change.pk).update(**masked)


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0002_model_cards_in_git"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("mlportal", "0004_grant"),
    ]

    operations = [
        migrations.RunPython(mask_recorded_url_passwords, migrations.RunPython.noop),
    ]
