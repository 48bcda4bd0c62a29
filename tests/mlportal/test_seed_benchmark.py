"""manage.py seed_benchmark: the rows, their audit records, and a registry that works on."""

import pytest
from django.core.management import CommandError, call_command

from catalog.models import CatalogModel
from deployments.models import Deployment, StatusChange
from mlportal.models import ObjectChange
from registry import services
from registry.models import Alias, Artifact, ModelVersion, Tag

pytestmark = pytest.mark.django_db


def seed(**sizes):
    call_command("seed_benchmark", **({"models": 20, "versions": 90, "deployments": 30,
                                       "namespaces": 3, "big_model_versions": 15} | sizes))


def test_it_writes_the_sizes_asked_for_and_audits_every_row():
    seed()

    assert CatalogModel.objects.count() == 21
    assert ModelVersion.objects.count() == 90 + 15
    assert Artifact.objects.count() == Tag.objects.count() == 105
    assert Alias.objects.count() == 21
    assert Deployment.objects.count() == 30 == StatusChange.objects.count()
    audited = ObjectChange.objects.values_list("content_type__model", flat=True)
    assert sorted(set(audited)) == ["alias", "artifact", "catalogmodel", "deployment",
                                    "modelversion", "namespace", "tag"]
    assert ObjectChange.objects.count() == 5 + 21 + 3 * 105 + 21 + 30


def test_versions_are_numbered_per_model_and_registration_goes_on_after_them():
    seed()
    big = services.find_catalog_model("/seed/big", "big_model")

    assert sorted(big.versions.values_list("model_version", flat=True)) == list(range(1, 16))
    assert services.register_version(namespace="/seed/big", model_name="big_model",
                                      ).model_version == 16
    # The ids continue after the seeded rows too.
    assert ModelVersion.objects.order_by("-pk").first().model_version == 16


def test_scale_multiplies_every_size():
    seed(models=200, versions=400, deployments=100, namespaces=10, scale=0.1)

    assert CatalogModel.objects.count() == 20 + 1
    assert ModelVersion.objects.count() == 40 + 15


def test_it_refuses_a_database_it_has_seeded():
    seed()
    with pytest.raises(CommandError, match="exists already"):
        seed()
