import io

import pytest
from django.core.management import call_command

from registry.models import Alias, Artifact, ModelVersion

pytestmark = pytest.mark.django_db


def test_the_demo_has_versions_1_to_3_of_the_example_model_and_loads_twice(local_artifacts,
                                                                        example):
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())

    numbers = ModelVersion.objects.filter(catalog_model__model_name="doc_classification")
    assert sorted(numbers.values_list("model_version", flat=True)) == [1, 2, 3]
    first = numbers.get(model_version=1)
    document = example("model_version")
    assert first.created_by == document["created_by"]
    assert [(a.name, a.uri) for a in first.artifacts.all()] == [
        (a["name"], a["uri"]) for a in document["artifacts"]]
    assert ModelVersion.objects.exclude(catalog_model__model_name="doc_classification").count() >= 3
    uploaded = Artifact.objects.get(storage_key__gt="")
    assert (local_artifacts / uploaded.storage_key).stat().st_size == uploaded.size
    assert Alias.objects.get(catalog_model__model_name="doc_classification",
                             name="champion").version.model_version == 3
    assert Artifact.objects.filter(storage_key__gt="").count() == 1


def test_the_sign_in_line_names_where_the_demo_is_served(local_artifacts):
    output = io.StringIO()
    call_command("load_demo", "--site", "http://127.0.0.1:8765/", stdout=output)

    assert "Sign in at http://127.0.0.1:8765/admin/ as admin / " in output.getvalue()
