"""The audit trail stays right when a write inside a savepoint is rolled back."""

import pytest
from django.db import transaction

from catalog.models import Namespace
from mlportal.audit import change_context
from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db


def test_a_change_rolled_back_with_its_savepoint_is_not_folded_into():
    namespace = Namespace.objects.create(path="/claims")
    with transaction.atomic(), change_context(principal="git:repo@abc", source="sync"):
        with pytest.raises(RuntimeError), transaction.atomic():
            namespace.description = "rolled back"
            namespace.save()
            raise RuntimeError("the rest of this write failed")
        namespace.description = "kept"
        namespace.save()

    change = ObjectChange.objects.get(action="update", object_id=str(namespace.pk))
    assert change.principal == "git:repo@abc"
    assert change.postchange_data["description"] == "kept"
