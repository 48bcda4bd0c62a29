
import pytest

from catalog.services import save_catalog_model
from deployments import services
from registry.services import register_version
from tests.helpers import ENDPOINT, at


@pytest.fixture
def versions(example):
    """The example catalog model with versions 1, 2 and 3, as the registry would hold them."""
    model = save_catalog_model(**example("catalog_model"))
    return {
        number: register_version(
            namespace=model.namespace.path, model_name=model.model_name,
            create_at=at(f"01-0{number} 00:00"),
            created_by="arn:aws:iam::123456789012:user/alice",
        )
        for number in (1, 2, 3)
    }


@pytest.fixture
def deploy(versions):
    """Record a deployment of version `number` through the service, with the example's
    defaults."""

    def record(number, **fields):
        fields = {
            "endpoint": ENDPOINT, "deployment_method": "ecs", "rolling_strategy": "blue_green",
            **fields,
        }
        return services.record_deployment(model_version=versions[number], **fields)

    return record
