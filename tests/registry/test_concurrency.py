"""Concurrent registrations of one model get distinct, consecutive numbers.

Runs on both databases: on PostgreSQL the catalog model's row lock queues them; on SQLite
(a database file in tests, see tests/conftest.py) IMMEDIATE transactions and the busy
timeout do.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from registry import services
from registry.models import ModelVersion


def register_at_once(clients):
    start = threading.Barrier(clients)

    def register(_):
        try:
            start.wait(timeout=30)
            return services.register_version(
                namespace="/abc_corp/claim", model_name="doc_classification").model_version
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(register, range(clients)))


@pytest.mark.django_db(transaction=True)
def test_48_concurrent_registrations_get_versions_1_to_48(catalog_model):
    numbers = register_at_once(48)

    assert sorted(numbers) == list(range(1, 49))
    assert ModelVersion.objects.count() == 48



@pytest.mark.django_db(transaction=True)
def test_an_alias_set_while_its_version_is_being_deprecated_is_refused(catalog_model):
    """The alias request read the version before the deprecation committed; it must wait for
    the deprecation and see it, not point the alias at a version deprecated meanwhile.

    Races on both databases: PostgreSQL queues the alias on the version's row lock, SQLite
    on its write lock (IMMEDIATE transactions); either way the status must be read again
    once the alias holds the lock."""
    import time

    from django.core.exceptions import ValidationError
    from django.db import transaction

    from registry.models import Alias

    version = services.register_version(namespace="/abc_corp/claim",
                                        model_name="doc_classification")
    read_by_the_alias_request = ModelVersion.objects.get(pk=version.pk)
    deprecating = threading.Event()

    def deprecate():
        try:
            with transaction.atomic():
                services.deprecate_version(version=ModelVersion.objects.get(pk=version.pk))
                deprecating.set()
                time.sleep(1)  # still deprecating: not committed yet
        finally:
            connection.close()

    def set_alias():
        try:
            assert deprecating.wait(timeout=30)
            services.set_alias(version=read_by_the_alias_request, name="champion")
            return "set"
        except ValidationError as exc:
            return exc.message_dict
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        deprecation = pool.submit(deprecate)
        alias = pool.submit(set_alias)
        deprecation.result()
        outcome = alias.result()

    assert ModelVersion.objects.get(pk=version.pk).status == "deprecated"
    assert outcome != "set" and "deprecated" in outcome["model_version"][0]
    assert not Alias.objects.exists()
