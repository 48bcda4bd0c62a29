"""JSON Schema as the catalog uses it (inference input and output schemas): checked when saved,
applied by validate-input, with bounded work and nothing fetched from elsewhere.

- Regular expressions (`pattern`, `patternProperties`, and the `additionalProperties` that
  depends on them) run on RE2, which matches in linear time: a pattern such as `^(a+)+$`
  cannot tie up a worker. A pattern RE2 cannot run (backreferences, lookaround) is refused
  when the schema is saved.
- `$ref`s resolve only inside the schema (and to the JSON Schema metaschemas): the registry
  retrieves nothing, so a remote reference is never fetched. A `$ref` that does not resolve is
  refused when the schema is saved.
- Nesting is bounded (MAX_SCHEMA_DEPTH), and NUL or unpaired surrogates are refused: the
  schema is stored in PostgreSQL's jsonb.
"""

import functools

import re2
from django.core.exceptions import ValidationError
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators as jsonschema_validators
from jsonschema._utils import extras_msg
from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing import Registry
from referencing import jsonschema as referencing_jsonschema
from referencing.exceptions import NoSuchResource, Unresolvable

from mlportal.jsonvalues import validate_storable_json

MAX_SCHEMA_DEPTH = 64
REF_KEYWORDS = ("$ref", "$dynamicRef")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern):
    """`pattern` compiled by RE2; re2.error when RE2 cannot run it."""
    return re2.compile(pattern, _OPTIONS)


def _search(pattern, text):
    return compile_pattern(pattern).search(text) is not None


# The keywords of jsonschema that run regular expressions, on RE2.

def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield jsonschema_exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional(instance, schema):
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key not in properties and not any(_search(pattern, key) for pattern in patterns):
            yield key


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional(instance, schema))
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield jsonschema_exceptions.ValidationError(
                f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            listed, verb = extras_msg(sorted(extras, key=str))
            yield jsonschema_exceptions.ValidationError(
                f"Additional properties are not allowed ({listed} {verb} unexpected)")


SAFE_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


@functools.cache
def _safe_class(base):
    return jsonschema_validators.extend(base, SAFE_KEYWORDS)


def validator_class(schema):
    """The validator class for the draft `schema` declares (else 2020-12), with the regular
    expression keywords on RE2."""
    base = (jsonschema_validators.validator_for(schema) if isinstance(schema, dict)
            else jsonschema_validators.Draft202012Validator)
    return _safe_class(base)


def _retrieve_nothing(uri):
    raise NoSuchResource(ref=uri)


# The metaschemas, and nothing retrieved: a reference outside the schema does not resolve.
REGISTRY = Registry(retrieve=_retrieve_nothing).with_resources(METASCHEMAS.items())


def validator(schema):
    """A validator of instances against `schema` that retrieves nothing."""
    return validator_class(schema)(schema, registry=REGISTRY)


def _specification(schema):
    return referencing_jsonschema.specification_with(
        schema.get("$schema", ""), default=referencing_jsonschema.DRAFT202012)


def _refs_and_patterns(schema):
    """Every (resolver, $ref) and every regular expression of `schema`, walking its
    subschemas as the schema's draft defines them."""
    specification = _specification(schema)
    root = specification.create_resource(schema)
    registry = REGISTRY.with_resource(uri=root.id() or "", resource=root)
    refs, patterns = [], []
    stack = [(schema, registry.resolver(base_uri=root.id() or ""))]
    while stack:
        contents, resolver = stack.pop()
        if not isinstance(contents, dict):
            continue
        refs.extend((resolver, contents[key]) for key in REF_KEYWORDS
                    if isinstance(contents.get(key), str))
        if isinstance(contents.get("pattern"), str):
            patterns.append(contents["pattern"])
        if isinstance(contents.get("patternProperties"), dict):
            patterns.extend(contents["patternProperties"])
        for subschema in specification.subresources_of(contents):
            if isinstance(subschema, dict):
                subresource = specification.create_resource(subschema)
                stack.append((subschema, resolver.in_subresource(subresource)))
    return refs, patterns


def _uses(schema, keyword):
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if keyword in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def check_schema(value):
    """A ValidationError naming the problem unless `value` is a JSON Schema the catalog can
    apply safely."""
    if not isinstance(value, dict | bool):
        raise ValidationError("A JSON Schema is an object, such as {\"type\": \"object\"}.")
    validate_storable_json(value, max_depth=MAX_SCHEMA_DEPTH, what="The schema")
    try:
        validator_class(value).check_schema(value)
    except jsonschema_exceptions.SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise ValidationError(
            f"Not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}"
        ) from exc
    if isinstance(value, bool):
        return
    if _uses(value, "unevaluatedProperties") and _uses(value, "patternProperties"):
        # jsonschema evaluates that pair with Python's backtracking regular expressions.
        raise ValidationError(
            "unevaluatedProperties cannot be combined with patternProperties here; use "
            "additionalProperties.", code="unsupported_keyword")
    refs, patterns = _refs_and_patterns(value)
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except re2.error as exc:
            raise ValidationError(
                f"The regular expression {pattern!r} is not supported: patterns run on RE2, "
                "without backreferences or lookaround.", code="unsupported_pattern") from exc
    for resolver, ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable as exc:
            raise ValidationError(
                f"The reference {ref!r} does not resolve inside the schema (remote references "
                "are not fetched).", code="unresolvable_ref") from exc


def instance_errors(schema, instance):
    """[{"path", "message"}] of `instance` against `schema`; a ValidationError when the schema
    cannot be applied (stored before these checks existed) or the instance is nested too
    deep for it."""
    try:
        errors = sorted(validator(schema).iter_errors(instance), key=str)
    except Unresolvable as exc:
        raise ValidationError(
            f"The model's input schema holds a reference that does not resolve ({exc}); "
            "correct the schema.", code="unresolvable_ref") from exc
    except re2.error as exc:
        raise ValidationError(
            f"The model's input schema holds a regular expression RE2 cannot run ({exc}); "
            "correct the schema.", code="unsupported_pattern") from exc
    except RecursionError as exc:
        raise ValidationError(
            "The request is nested too deep to check against the schema.",
            code="too_deep") from exc
    return [
        {"path": "/".join(str(part) for part in error.absolute_path), "message": error.message}
        for error in errors
    ]
