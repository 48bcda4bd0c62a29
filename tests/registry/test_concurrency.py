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

