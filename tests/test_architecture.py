"""The import-linter contracts in pyproject.toml (run by `make test`) cover the whole code."""

import pkgutil
import tomllib
from pathlib import Path

import mlportal

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def contracts():
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_the_framework_layer_lists_every_module_of_mlportal_but_the_pages():
    [layers] = [contract["layers"] for contract in contracts() if contract["type"] == "layers"]
    framework = {name.strip() for name in layers[-1].split(":")}
    children = {f"mlportal.{module.name}" for module in pkgutil.iter_modules(mlportal.__path__)}

    assert layers[:4] == ["mlportal.pages", "deployments", "registry", "catalog"]
    assert framework == children - {"mlportal.pages"}
