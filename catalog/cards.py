"""Catalog documents kept in Git: parsing a file into a document and a model card.

A card is a `.yaml`, `.yml` or `.json` catalog document (the shape of
examples/catalog_model.json), or a Markdown file whose YAML front matter is the
document and whose body is the model card.
"""

import json
import re
from dataclasses import dataclass

import yaml

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json", ".md")
DOCUMENT_FIELDS = (
    "namespace", "model_name", "description", "owner", "url", "data_sources", "inference",
)
INFERENCE_DIRECTIONS = ("input", "output")
INFERENCE_PARTS = ("description", "schema")
MAX_CARD_BYTES = 1_000_000
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when built with it
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)(.*)\Z",
                          re.DOTALL | re.MULTILINE)


class CardError(Exception):
    """Why a file is not a valid catalog document."""


@dataclass
class Card:
    path: str
    document: dict
    body: str  # the model card (Markdown); "" for YAML and JSON documents

    @property
    def model_key(self):
        """(namespace, model_name) when both are strings, else None."""
        namespace, name = self.document.get("namespace"), self.document.get("model_name")
        return (namespace, name) if isinstance(namespace, str) and isinstance(name, str) else None

    def managed_fields(self):
        """The document fields this card sets, inference parts as "inference.input.schema"."""
        fields = []
        for name in DOCUMENT_FIELDS:
            if name not in self.document:
                continue
            if name != "inference":
                fields.append(name)
                continue
            inference = self.document["inference"] or {}
            for direction in INFERENCE_DIRECTIONS:
                part = inference.get(direction) or {}
                fields += [f"inference.{direction}.{key}" for key in INFERENCE_PARTS if key in part]
        return fields


def parse_card(path, data):
    """The Card in file `path` holding `data` (bytes); None for a Markdown file without
    front matter (a README, not a card). Raises CardError saying what is wrong."""
    if data is None or len(data) > MAX_CARD_BYTES:
        raise CardError(f"The file is larger than {MAX_CARD_BYTES // 1_000_000} MB.")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise CardError("The file is not UTF-8 text.") from exc
    body = ""
    if path.lower().endswith(".md"):
        match = FRONT_MATTER.match(text)
        if match is None:
            return None
        text, body = match.group(1), match.group(2).strip("\r\n")
    if path.lower().endswith(".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"Not valid JSON: {exc}.") from exc
    else:
        try:
            document = yaml.load(text, Loader=SAFE_LOADER)
        except yaml.YAMLError as exc:
            raise CardError(f"Not valid YAML: {_one_line(exc)}.") from exc
    if not isinstance(document, dict):
        raise CardError("A catalog document is a mapping of fields such as namespace, "
                        "model_name, owner.")
    unknown = sorted(str(key) for key in document if key not in DOCUMENT_FIELDS)
    if unknown:
        raise CardError(f"Unknown field(s): {', '.join(unknown)}. "
                        f"A catalog document has: {', '.join(DOCUMENT_FIELDS)}.")
    inference = document.get("inference")
    if isinstance(inference, dict):
        unknown = sorted(str(key) for key in inference if key not in INFERENCE_DIRECTIONS)
        if unknown:
            raise CardError(f"Unknown field(s) in inference: {', '.join(unknown)}; "
                            "it has input and output.")
        for direction, part in inference.items():
            if not isinstance(part, dict):
                continue
            unknown = sorted(str(key) for key in part if key not in INFERENCE_PARTS)
            if unknown:
                raise CardError(f"Unknown field(s) in inference.{direction}: "
                                f"{', '.join(unknown)}; it has description and schema.")
    return Card(path=path, document=document, body=body)


def _one_line(exc):
    return " ".join(str(exc).split())


def error_text(errors, prefix=""):
    """Validation errors ({field: [messages]}, nested as DRF gives them) as one line:
    "owner: Enter a valid email address.; inference.input.schema: ..."."""
    if isinstance(errors, dict):
        parts = []
        for key, value in errors.items():
            name = prefix if key in ("non_field_errors", "__all__") else (
                f"{prefix}.{key}" if prefix else str(key))
            parts.append(error_text(value, name))
        return "; ".join(part for part in parts if part)
    if isinstance(errors, list):
        if any(isinstance(item, dict | list) for item in errors):
            return "; ".join(
                error_text(item, f"{prefix}[{index}]") for index, item in enumerate(errors)
                if item
            )
        messages = " ".join(str(item) for item in errors)
        return f"{prefix}: {messages}" if prefix else messages
    return f"{prefix}: {errors}" if prefix else str(errors)
