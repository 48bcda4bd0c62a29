"""The real, unmodified MLflow client (mlflow-skinny) against a live portal: what it writes
lands in the catalog, the registry, the audit trail and the portal's API; what the portal
holds, it reads."""

import pytest
from django.contrib.contenttypes.models import ContentType
from mlflow.exceptions import MlflowException
from rest_framework.test import APIClient

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from deployments.services import record_deployment
from mlportal.models import ObjectChange, Token
from mlportal.services import save_new_token
from registry.choices import VersionStatus
from registry.models import Artifact, ModelTag, ModelVersion
from registry.services import register_version

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Stages are deprecated in MLflow itself; the portal still answers the client's calls.
    pytest.mark.filterwarnings("ignore:.*stages:FutureWarning"),
]

NAME = "abc_corp.claim.doc_classification"


def error_of(call, *args, **kwargs):
    with pytest.raises(MlflowException) as caught:
        call(*args, **kwargs)
    return caught.value


def test_registering_with_mlflow_creates_the_catalog_model_and_its_version(mlflow_as, owner):
    import mlflow

    client = mlflow_as(owner)
    model = client.create_registered_model(NAME, tags={"team": "claims"},
                                           description="Sorts claim documents")
    version = mlflow.register_model("s3://models-bucket/doc_classification/1", NAME,
                                    tags={"framework": "sklearn"})

    assert (model.name, model.description, model.tags) == (
        NAME, "Sorts claim documents", {"team": "claims"})
    assert (version.name, version.version, version.current_stage, version.status) == (
        NAME, "1", "None", "READY")
    assert version.source == "s3://models-bucket/doc_classification/1"
    assert version.user_id == "owner"
    assert version.tags == {"framework": "sklearn"}
    stored = CatalogModel.objects.get(namespace__path="/abc_corp/claim",
                                      model_name="doc_classification")
    assert stored.description == "Sorts claim documents"
    assert stored.owner == "owner@example.com"
    assert ModelTag.objects.get(catalog_model=stored).value == "claims"
    row = ModelVersion.objects.get(catalog_model=stored)
    assert (row.model_version, row.created_by, row.registered_by) == (1, "owner", owner)
    assert Artifact.objects.get(version=row).uri == "s3://models-bucket/doc_classification/1"


def test_what_mlflow_writes_is_in_the_audit_trail_and_the_portal_api(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://models-bucket/doc/1")

    kinds = {ContentType.objects.get_for_model(model).pk: model for model in
             (CatalogModel, ModelVersion, Artifact)}
    changes = ObjectChange.objects.filter(content_type__in=kinds, user=owner)
    assert {(kinds[c.content_type_id], c.action, c.source) for c in changes} == {
        (CatalogModel, "create", "api"), (ModelVersion, "create", "api"),
        (Artifact, "create", "api")}
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {save_new_token(Token(user=owner))}")
    listed = api.get("/api/v1/versions/", {"namespace": "/abc_corp/claim",
                                           "model_name": "doc_classification"}).json()
    assert [(v["model_version"], v["artifacts"][0]["uri"]) for v in listed["results"]] == [
        (1, "s3://models-bucket/doc/1")]


def test_plain_names_live_in_the_default_namespace(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model("churn")

    assert CatalogModel.objects.filter(namespace__path="/mlflow", model_name="churn").exists()
    assert client.get_registered_model("churn").name == "churn"
    assert client.get_registered_model("mlflow.churn").name == "churn"


def test_what_the_portal_registers_mlflow_reads(mlflow_as, reader):
    save_catalog_model(namespace="/abc_corp/claim", model_name="doc_classification",
                       description="From the portal", owner="team@example.com")
    register_version(namespace="/abc_corp/claim", model_name="doc_classification",
                     artifacts=[{"name": "model", "uri": "s3://bucket/doc/1.tar.gz"}],
                     tags={"framework": "xgboost"}, created_by="arn:aws:iam::1:user/ci")
    client = mlflow_as(reader)

    model = client.get_registered_model(NAME)
    version = client.get_model_version(NAME, 1)
    assert (model.description, model.latest_versions[0].version) == ("From the portal", "1")
    assert (version.user_id, version.tags) == ("arn:aws:iam::1:user/ci", {"framework": "xgboost"})
    assert client.get_model_version_download_uri(NAME, 1) == "s3://bucket/doc/1.tar.gz"


def test_aliases_resolve_models_uris(mlflow_as, owner):
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    for number in (1, 2):
        client.create_model_version(NAME, f"s3://bucket/doc/{number}")
    client.set_registered_model_alias(NAME, "champion", 1)
    client.set_registered_model_alias(NAME, "champion", 2)  # moves it

    assert client.get_model_version_by_alias(NAME, "champion").version == "2"
    assert get_model_name_and_version(client, f"models:/{NAME}@champion") == (NAME, "2")
    assert get_model_name_and_version(client, f"models:/{NAME}/latest") == (NAME, "2")
    # What mlflow.pyfunc.load_model("models:/...@champion") downloads from.
    assert ModelsArtifactRepository.get_underlying_uri(f"models:/{NAME}@champion") == (
        "s3://bucket/doc/2")
    assert client.get_registered_model(NAME).aliases == {"champion": "2"}
    assert client.get_model_version(NAME, 2).aliases == ["champion"]
    client.delete_registered_model_alias(NAME, "champion")
    error = error_of(client.get_model_version_by_alias, NAME, "champion")
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_tags_are_set_and_deleted(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")
    client.set_registered_model_tag(NAME, "team", "claims")
    client.set_model_version_tag(NAME, 1, "validated", "yes")
    client.set_model_version_tag(NAME, 1, "validated", "twice")

    assert client.get_registered_model(NAME).tags == {"team": "claims"}
    assert client.get_model_version(NAME, 1).tags == {"validated": "twice"}
    client.delete_registered_model_tag(NAME, "team")
    client.delete_model_version_tag(NAME, 1, "validated")
    assert client.get_registered_model(NAME).tags == {}
    assert client.get_model_version(NAME, 1).tags == {}


def test_search_filters_orders_and_pages(mlflow_as, owner):
    client = mlflow_as(owner)
    for name in ("abc_corp.claim.doc_classification", "abc_corp.claim.fraud",
                 "abc_corp.claim.Fraud_v2", "churn", "abc_corp.pricing"):
        client.create_registered_model(name, tags={"team": "claims" if "claim" in name else "x"})
    for number in (1, 2, 3):
        client.create_model_version(NAME, f"s3://bucket/doc/{number}",
                                    run_id=f"run{number}", tags={"n": str(number)})
    client.create_model_version("churn", "s3://bucket/churn/1")

    def names(models):
        return [model.name for model in models]

    assert names(client.search_registered_models("name LIKE 'abc_corp.claim.%'")) == [
        "abc_corp.claim.Fraud_v2", "abc_corp.claim.doc_classification", "abc_corp.claim.fraud"]
    assert names(client.search_registered_models("name ILIKE '%fraud%'")) == [
        "abc_corp.claim.Fraud_v2", "abc_corp.claim.fraud"]
    assert names(client.search_registered_models("name = 'churn'")) == ["churn"]
    assert names(client.search_registered_models(
        "tags.team = 'claims' AND name != 'abc_corp.claim.fraud'",
        order_by=["name DESC"])) == ["abc_corp.claim.doc_classification", "abc_corp.claim.Fraud_v2"]

    def versions(found):
        return [(v.name, v.version) for v in found]

    assert versions(client.search_model_versions(f"name = '{NAME}' AND version_number >= 2")) == [
        (NAME, "3"), (NAME, "2")]
    assert versions(client.search_model_versions("run_id IN ('run1', 'run3')")) == [
        (NAME, "3"), (NAME, "1")]
    assert versions(client.search_model_versions("source_path LIKE 's3://bucket/churn/%'")) == [
        ("churn", "1")]
    assert versions(client.search_model_versions(
        "tags.n = '2'", order_by=["version_number ASC"])) == [(NAME, "2")]
    assert client.get_model_version(NAME, 1).run_id == "run1"

    first = client.search_registered_models(max_results=2)
    second = client.search_registered_models(max_results=2, page_token=first.token)
    third = client.search_registered_models(max_results=2, page_token=second.token)
    assert names(first) + names(second) + names(third) == [
        "abc_corp.claim.Fraud_v2", "abc_corp.claim.doc_classification", "abc_corp.claim.fraud",
        "abc_corp.pricing", "churn"]
    assert not third.token  # the last page has none
    paged = client.search_model_versions(max_results=3)
    rest = client.search_model_versions(max_results=3, page_token=paged.token)
    assert versions(paged) + versions(rest) == [
        (NAME, "3"), (NAME, "2"), (NAME, "1"), ("churn", "1")]


def test_rename_update_and_stages(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")
    client.create_model_version(NAME, "s3://bucket/doc/2")
    client.update_registered_model(NAME, description="New words")
    client.update_model_version(NAME, 1, description="The first")
    archived = client.transition_model_version_stage(NAME, 1, "Archived")

    assert archived.current_stage == "Archived"
    assert ModelVersion.objects.get(model_version=1).status == VersionStatus.DEPRECATED
    assert [v.version for v in client.get_latest_versions(NAME, stages=["Archived"])] == ["1"]
    assert [v.version for v in client.get_latest_versions(NAME, stages=["None"])] == ["2"]
    assert client.transition_model_version_stage(NAME, 1, "None").current_stage == "None"
    error = error_of(client.transition_model_version_stage, NAME, 2, "Production")
    assert error.error_code == "INVALID_PARAMETER_VALUE" and "alias" in error.message
    client.rename_registered_model(NAME, "abc_corp.fraud.detector")
    renamed = client.get_registered_model("abc_corp.fraud.detector")
    assert (renamed.name, renamed.description) == ("abc_corp.fraud.detector", "New words")
    assert CatalogModel.objects.get().namespace.path == "/abc_corp/fraud"
    assert client.get_model_version("abc_corp.fraud.detector", 1).description == "The first"


def test_every_error_code_of_the_contract(mlflow_as, owner, outsider, make_user):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")

    # The client reads its credentials from the environment at each call: one at a time.
    cases = [
        (owner, "create_registered_model", (NAME,), "RESOURCE_ALREADY_EXISTS", 400),
        (owner, "get_registered_model", ("abc_corp.claim.missing",), "RESOURCE_DOES_NOT_EXIST",
         404),
        (owner, "get_model_version", (NAME, 7), "RESOURCE_DOES_NOT_EXIST", 404),
        (owner, "create_registered_model", ("Bad Name!",), "INVALID_PARAMETER_VALUE", 400),
        (owner, "create_registered_model", ("Abc.model",), "INVALID_PARAMETER_VALUE", 400),
        (owner, "search_registered_models", ("name = 'a' OR name = 'b'",),
         "INVALID_PARAMETER_VALUE", 400),
        (owner, "search_model_versions", ("colour = 'red'",), "INVALID_PARAMETER_VALUE", 400),
        (owner, "create_model_version", (NAME, "runs:/0123/model"), "INVALID_PARAMETER_VALUE",
         400),
        (owner, "create_model_version", (NAME, "s3://bucket/a/%2e%2e/secrets"),
         "INVALID_PARAMETER_VALUE", 400),
        (owner, "create_model_version", (NAME, "file:///etc/passwd"), "INVALID_PARAMETER_VALUE",
         400),
        (owner, "delete_model_version", (NAME, 1), "RESOURCE_CONFLICT", 409),
        (owner, "delete_registered_model", (NAME,), "RESOURCE_CONFLICT", 409),
        (outsider, "create_model_version", (NAME, "s3://bucket/x/1"), "PERMISSION_DENIED", 403),
        (None, "get_registered_model", (NAME,), "UNAUTHENTICATED", 401),
    ]
    for user, method, args, code, status in cases:
        error = error_of(getattr(mlflow_as(user), method), *args)
        assert (error.error_code, error.get_http_status_code()) == (code, status), (args, error)
    assert ModelVersion.objects.count() == 1


def test_register_model_refuses_runs_sources(mlflow_as, owner):
    import mlflow

    mlflow_as(owner)
    error = error_of(mlflow.register_model, "runs:/0123456789abcdef/model", "churn")
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    assert "runs" in error.message


def test_deleting_a_deployed_version_says_why_it_is_refused(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")
    record_deployment(model_version=ModelVersion.objects.get(),
                      endpoint="https://example.com/doc", deployment_method="ecs",
                      rolling_strategy="blue_green")

    error = error_of(client.delete_model_version, NAME, 1)
    assert error.error_code == "RESOURCE_CONFLICT"
    assert "1 deployment" in error.message and "never deleted" in error.message
    assert ModelVersion.objects.exists()


def test_deletes_the_portal_refuses_say_why_as_mlflows_resource_conflict(mlflow_as, owner):
    """What the MLflow user sees: MLflow's RESOURCE_CONFLICT, the status MLflow's own server
    gives it (409, which the client does not retry), and the portal's reason."""
    client = mlflow_as(owner)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, "s3://bucket/doc/1")

    version = error_of(client.delete_model_version, NAME, 1)
    model = error_of(client.delete_registered_model, NAME)

    assert (version.error_code, version.get_http_status_code()) == ("RESOURCE_CONFLICT", 409)
    assert str(version) == (
        f"RESOURCE_CONFLICT: Model Version (name={NAME}, version=1) is not deleted: the portal "
        "never deletes a version, so that what ran stays on record. Archive it instead "
        "(transition-stage to Archived, the portal's deprecated).")
    assert (model.error_code, model.get_http_status_code()) == ("RESOURCE_CONFLICT", 409)
    assert str(model) == (
        f"RESOURCE_CONFLICT: Registered Model {NAME} has versions (1) and the portal never "
        "deletes a version, so it does not delete the model either; archive the versions "
        "instead (transition-stage to Archived, the portal's deprecated).")
    assert ModelVersion.objects.count() == 1 and CatalogModel.objects.count() == 1


def test_a_model_without_versions_is_deleted(mlflow_as, owner):
    client = mlflow_as(owner)
    client.create_registered_model("churn", tags={"team": "x"})
    client.delete_registered_model("churn")

    assert not CatalogModel.objects.filter(model_name="churn").exists()
    assert ObjectChange.objects.filter(action="delete", object_repr="/mlflow/churn").exists()


def test_basic_auth_signs_in_with_the_portal_users_password(mlflow_as, owner):
    client = mlflow_as(owner, basic=True)
    client.create_registered_model("churn")

    assert ModelTag.objects.count() == 0
    assert ObjectChange.objects.filter(user=owner, object_repr="/mlflow/churn").exists()
    owner.set_password("changed")
    owner.save()
    assert error_of(client.get_registered_model, "churn").error_code == "UNAUTHENTICATED"


SPARE, GONE = "abc_corp.claim.spare", "abc_corp.claim.gone"


def _writes(client, name):
    """One call of every registry write (and the reads before them), in an order that works
    for a user who may write; each returns normally or raises MlflowException."""
    return [
        ("create model", lambda: client.create_registered_model(name)),
        ("create version", lambda: client.create_model_version(NAME, "s3://bucket/doc/9")),
        ("update model", lambda: client.update_registered_model(NAME, description="d")),
        ("set model tag", lambda: client.set_registered_model_tag(NAME, "k", "v")),
        ("delete model tag", lambda: client.delete_registered_model_tag(NAME, "k")),
        ("update version", lambda: client.update_model_version(NAME, 1, description="d")),
        ("set version tag", lambda: client.set_model_version_tag(NAME, 1, "k", "v")),
        ("delete version tag", lambda: client.delete_model_version_tag(NAME, 1, "k")),
        ("set alias", lambda: client.set_registered_model_alias(NAME, "champion", 1)),
        ("delete alias", lambda: client.delete_registered_model_alias(NAME, "champion")),
        ("archive", lambda: client.transition_model_version_stage(NAME, 1, "Archived")),
        ("rename", lambda: client.rename_registered_model(SPARE, SPARE + "_renamed")),
        ("delete model", lambda: client.delete_registered_model(GONE)),
    ]


def _reads(client):
    return [
        ("get model", lambda: client.get_registered_model(NAME)),
        ("search models", lambda: client.search_registered_models()),
        ("latest versions", lambda: client.get_latest_versions(NAME)),
        ("get version", lambda: client.get_model_version(NAME, 1)),
        ("search versions", lambda: client.search_model_versions(f"name = '{NAME}'")),
        ("download uri", lambda: client.get_model_version_download_uri(NAME, 1)),
        ("by alias", lambda: client.get_model_version_by_alias(NAME, "stable")),
    ]


def _outcome(call):
    try:
        call()
    except MlflowException as error:
        return error.error_code
    return "OK"


@pytest.mark.parametrize("role, reads, writes", [
    ("anonymous", "UNAUTHENTICATED", "UNAUTHENTICATED"),
    ("read-only token", "OK", "PERMISSION_DENIED"),
    ("editor of another namespace", "OK", "PERMISSION_DENIED"),
    ("owner", "OK", "OK"),
])
def test_permission_matrix(mlflow_as, owner, outsider, role, reads, writes):
    setup = mlflow_as(owner)
    setup.create_registered_model(NAME)
    setup.create_model_version(NAME, "s3://bucket/doc/1")
    setup.set_registered_model_alias(NAME, "stable", 1)
    setup.create_registered_model(SPARE)
    setup.create_registered_model(GONE)
    client = {
        "anonymous": lambda: mlflow_as(None),
        "read-only token": lambda: mlflow_as(owner, write_enabled=False),
        "editor of another namespace": lambda: mlflow_as(outsider),
        "owner": lambda: mlflow_as(owner),
    }[role]()
    # The outsider may create models in their own namespace, not in /abc_corp.
    results = {label: _outcome(call) for label, call in
               [*_reads(client), *_writes(client, "abc_corp.claim.other")]}
    read_labels = {label for label, _ in _reads(client)}
    assert {label: result for label, result in results.items() if label in read_labels} == {
        label: reads for label in read_labels}
    assert {label: result for label, result in results.items()
            if label not in read_labels} == {
        label: writes for label, _ in _writes(client, "x")}
    if writes != "OK":
        assert ModelVersion.objects.count() == 1
        assert CatalogModel.objects.count() == 3
