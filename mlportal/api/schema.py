"""The OpenAPI document's reader-facing parts: a tag (with a description) per resource, a
summary on every operation, the user's example documents as examples, what `{id}` is, and
the error answers every operation can give (DRF's shapes, as mlportal.api.errors makes
them).

Generic on purpose: a resource added later (by any app) gets its tag, summaries and error
answers from its path and its model's names; only the examples are listed by resource.
"""

import copy
import json
import re

from django.conf import settings
from drf_spectacular.openapi import AutoSchema

EXAMPLES = settings.BASE_DIR / "examples"

# Resource (the first path segment after /api/v1/) -> what a reader needs to know about it.
TAGS = {
    "namespaces": "Paths such as /abc_corp/claim that group models; they nest.",
    "models": "Catalog models: what exists, who owns it, its data sources and inference "
              "schemas (the document of examples/catalog_model.json).",
    "data-sources": "Where models' data comes from; shared between models. Connections are "
                    "returned with credentials masked.",
    "catalog-sources": "Git repositories of model cards the portal syncs the catalog from.",
    "versions": "Trained versions of catalog models, numbered 1, 2, 3 per model by the "
                "server, with their artifacts and tags (examples/model_version.json).",
    "aliases": "Names such as champion that point at one version of a model at a time.",
    "deployments": "Which version runs at which endpoint, how and since when, with status "
                   "history, promotion and rollback (examples/deployment.json).",
    "changes": "The audit trail (read-only; auditors).",
    "grants": "Who may write in which namespace.",
    "tokens": "API tokens: obtain, list and revoke.",
    "auth": "Exchange a username and password for a token.",
    "api": "The API's front page: every resource and its URL.",
}

ACTION_SUMMARIES = {
    "list": "List {plural}",
    "retrieve": "Get one {singular}",
    "create": "Create {a} {singular}",
    "update": "Replace {a} {singular}",
    "partial_update": "Change part of {a} {singular}",
    "destroy": "Delete {a} {singular}",
}
# Where the generic words would mislead.
SUMMARY_OVERRIDES = {
    ("modelversion", "create"): "Register a version (the server gives it the next number)",
    ("deployment", "create"): "Record a deployment (the server gives it the next number)",
    ("alias", "create"): "Set an alias (or move it to another version)",
    ("catalogmodel", "create"): "Register a catalog model",
    ("artifact", "create"): "Upload an artifact (multipart) or link one (JSON)",
}


def _load(name):
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _examples():
    """Resource -> (request document, response document): the user's own documents, and
    what the portal answers with them (server fields added)."""
    model = _load("catalog_model")
    version = _load("model_version")
    deployment = _load("deployment")
    return {
        "models": (model, {"id": 1, **model, "create_at": "2023-01-01T00:00:00.000Z",
                           "update_at": "2023-01-01T00:00:00.000Z", "source": None,
                           "model_card": ""}),
        "versions": (version, {"id": 3, **version, "status": "ready",
                               "tags": {"framework": "sklearn"}, "aliases": ["champion"],
                               "registered_by": "alice", "deployments": [],
                               "serving": [], "warnings": [],
                               "update_at": "2023-01-10T00:00:00.000Z"}),
        "deployments": (deployment, {
            "id": 7, **deployment, "environment": "prod", "traffic_percent": None,
            "status": "active", "active_from": deployment["create_at"], "active_until": None,
            "replaced_by": None, "status_history": [{
                "status": "active", "traffic_percent": None, "at": deployment["create_at"],
                "user": "alice", "principal": "arn:aws:iam::123456789012:role/deployer",
                "reason": ""}],
            "update_at": deployment["create_at"]}),
        "namespaces": ({"path": "/abc_corp/claim", "description": "Claims models"},
                       {"id": 2, "path": "/abc_corp/claim", "description": "Claims models",
                        "parent": "/abc_corp", "create_at": "2023-01-01T00:00:00.000Z",
                        "update_at": "2023-01-01T00:00:00.000Z"}),
        "aliases": ({"namespace": "/abc_corp/claim", "model_name": "doc_classification",
                     "alias": "champion", "model_version": 3},
                    {"id": 4, "namespace": "/abc_corp/claim",
                     "model_name": "doc_classification", "alias": "champion",
                     "model_version": 3, "version": 3, "create_at": "2023-01-10T00:00:00.000Z",
                     "update_at": "2023-01-10T00:00:00.000Z"}),
    }


def resource_of(path):
    if path == "/api/v1/":
        return "api"
    match = re.match(r"^/api/v1/([^/{]+)", path)
    return match.group(1) if match else None


class PortalAutoSchema(AutoSchema):
    """Tags by resource and a summary for every operation (a custom action's summary is the
    first line of its docstring)."""

    def get_tags(self):
        resource = resource_of(self.path)
        return [resource] if resource else super().get_tags()

    def get_summary(self):
        action = getattr(self.view, "action", None)
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        override = SUMMARY_OVERRIDES.get((model._meta.model_name if model else None, action))
        if override:
            return override
        if action in ACTION_SUMMARIES and model is not None and not (
                action == "list" and not self._is_list_view()):
            singular = str(model._meta.verbose_name)
            return ACTION_SUMMARIES[action].format(
                plural=model._meta.verbose_name_plural, singular=singular,
                a="an" if singular[:1] in "aeiou" else "a")
        method = getattr(self.view, action or self.method.lower(), None)
        doc = (getattr(method, "__doc__", None) or self.view.__class__.__doc__ or "").strip()
        return first_sentence(doc) or None


def first_sentence(doc):
    """The first sentence of a docstring's first paragraph, on one line."""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=\w[.;:])\s", paragraph)[0]
    return sentence.rstrip(".;:")


ERROR = {"type": "object", "properties": {"detail": {"type": "string"}},
         "required": ["detail"]}
# Each field's messages (nested documents nest them); a body that cannot be read at all is
# {"detail": "JSON parse error - ..."}.
FIELD_ERRORS = {"type": "object", "additionalProperties": {"anyOf": [
    {"type": "array", "items": {}}, {"type": "object"}, {"type": "string"}]},
    "description": "Each field that is wrong, with what is wrong with it ('detail' when the "
                   "body could not be read)."}

ERRORS = {
    "400": ("Bad input: each field that is wrong, named, with why.", FIELD_ERRORS,
            {"endpoint": ["Enter a valid URL."],
             "rolling_strategy": ['"blue-green" is not a valid choice.']}),
    "401": ("No credentials, or a token that is unknown, revoked or expired.", ERROR,
            {"detail": "Authentication credentials were not provided."}),
    "403": ("Signed in, but not allowed: no grant on the namespace, or a read-only token.",
            ERROR, {"detail": "You do not have permission to perform this action."}),
    "404": ("No such resource, or not one you may see.", ERROR, {"detail": "Not found."}),
    "409": ("A conflict: a name or number that is taken (keyed by its field), or a row others "
            "depend on.", FIELD_ERRORS,
            {"detail": "Version 3 of /abc_corp/claim/doc_classification exists."}),
}

ID_DESCRIPTION = (
    "The resource's `id`: the number in its document and in the lists' `id` field, assigned "
    "by the portal. It is not a deployment's `deployment_id` (1, 2, 3 per model) nor a "
    "version's `model_version`: to find those by the numbers people use, filter the list, "
    "e.g. `/api/v1/deployments/?namespace=/abc_corp/claim&model_name=doc_classification"
    "&deployment_id=1`."
)


def document(result, generator, request, public):
    """POSTPROCESSING_HOOKS: tags with descriptions, examples, the `{id}` parameter
    explained, and the error answers of every operation."""
    examples = _examples()
    used_tags = set()
    for path, operations in result.get("paths", {}).items():
        resource = resource_of(path)
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            used_tags.update(operation.get("tags", []))
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "id":
                    parameter["description"] = ID_DESCRIPTION
            _add_examples(operation, method, path, examples.get(resource))
            _add_errors(operation, method, path)
    result["tags"] = [{"name": name, "description": TAGS.get(name, "")}
                      for name in sorted(used_tags)]
    return result


def _add_examples(operation, method, path, example):
    # The resource's own paths (its list, one of it, an action on one), not those of what
    # hangs from it (a version's artifacts).
    if example is None or not re.match(r"^/api/v1/[^/{]+/(\{id\}/)?([a-z-]+/)?$", path):
        return
    request, response = example
    detail = path.rstrip("/").endswith("{id}")
    if method in ("post", "put") and not re.search(r"\}/[a-z-]+/$", path):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if "json" in media:
                content["examples"] = {"document": {
                    "summary": "The user's example document", "value": copy.deepcopy(request)}}
    for status, answer in operation["responses"].items():
        if not status.startswith("2"):
            continue
        for media, content in answer.get("content", {}).items():
            if "json" not in media:
                continue
            listing = method == "get" and not detail
            value = ({"count": 1, "next": None, "previous": None, "results": [response]}
                     if listing else response)
            content["examples"] = {"document": {"summary": "As the portal answers",
                                                "value": copy.deepcopy(value)}}


def _add_errors(operation, method, path):
    responses = operation["responses"]
    statuses = ["401", "403"]
    if method in ("post", "put", "patch"):
        statuses.insert(0, "400")
    if "{" in path:
        statuses.append("404")
    if method in ("post", "put", "patch", "delete"):
        statuses.append("409")
    if path.startswith("/api/v1/auth/"):
        statuses = ["400"]
    for status in statuses:
        if status in responses:
            continue
        description, schema, example = ERRORS[status]
        responses[status] = {"description": description, "content": {"application/json": {
            "schema": schema, "examples": {"error": {"value": example}}}}}
