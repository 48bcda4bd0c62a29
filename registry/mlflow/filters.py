"""MLflow's search grammar (mlflow/utils/search_utils.py: SearchModelUtils and
SearchModelVersionUtils), parsed by a tokenizer and a recursive-descent parser and turned into
ORM conditions, so that the database does the search:

    filter     := comparison ("AND" comparison)*
    comparison := key operator value
    key        := word | word "." (word ("." word)* | `quoted` | 'quoted' | "quoted")
    operator   := "=" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE | IN | NOT IN
    value      := 'string' | "string" | number | "(" string ("," string)* ")"
    order_by   := key [ASC | DESC]

Registered models: `name` (= != LIKE ILIKE IN NOT IN) and `tags.<key>` (= != LIKE ILIKE).
Model versions: also `version_number` (= != < <= > >=), `run_id` (= != LIKE ILIKE IN NOT IN)
and `source_path` (= != LIKE ILIKE). LIKE is case-sensitive, ILIKE is not; `%` and `_` are the
wildcards. Anything else is refused with INVALID_PARAMETER_VALUE naming the problem.
"""

import re
from dataclasses import dataclass

from django.db import NotSupportedError
from django.db.models import Case, CharField, F, Lookup, Q, Value, When
from django.db.models.functions import Concat, Length, Replace, Substr

from registry.mlflow import names
from registry.mlflow.errors import invalid

MAX_NUMBER = 2**31 - 1  # the largest version number the database column holds
# Bounds on the work one search may ask for: the filter's length and an IN list's values.
MAX_FILTER_LENGTH = 100_000
MAX_LIST_VALUES = 1000
RUN_ID_TAG = "mlflow.run_id"
RUN_LINK_TAG = "mlflow.run_link"
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
SOURCE_ARTIFACT = "model"

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<dot>\.)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
""", re.VERBOSE)
KEYWORDS = {"AND", "LIKE", "ILIKE", "IN", "NOT", "ASC", "DESC", "OR"}


@dataclass
class Token:
    kind: str
    text: str
    position: int


def tokenize(text):
    tokens, position = [], 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise invalid(f"Invalid filter: unexpected character {text[position]!r} at "
                          f"position {position} of {text!r}.")
        kind = match.lastgroup
        if kind != "space":
            value = match.group()
            if kind == "word" and value.upper() in KEYWORDS:
                kind, value = "keyword", value.upper()
            tokens.append(Token(kind, value, position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text):
    quote = text[0]
    body = text[1:-1]
    if quote == "`":
        return body
    return re.sub(r"\\(.)", r"\1", body.replace(quote * 2, quote))


@dataclass
class Comparison:
    entity: str  # "attribute" or "tag"
    key: str
    operator: str
    value: object  # str, int or list of str


class Parser:
    """Recursive descent over the tokens of one filter (or one order_by clause)."""

    def __init__(self, text, what="filter"):
        self.text = text
        self.what = what
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self):
        return self.tokens[self.index]

    def advance(self):
        token = self.current
        self.index += 1
        return token

    def fail(self, expected):
        token = self.current
        found = "the end" if token.kind == "end" else repr(token.text)
        raise invalid(f"Invalid {self.what} {self.text!r}: expected {expected} at position "
                      f"{token.position}, found {found}.")

    def accept_keyword(self, *words):
        if self.current.kind == "keyword" and self.current.text in words:
            return self.advance().text
        return None

    def parse_filter(self):
        comparisons = [self.parse_comparison()]
        while self.accept_keyword("AND"):
            comparisons.append(self.parse_comparison())
        if self.current.kind == "keyword" and self.current.text == "OR":
            raise invalid(f"Invalid filter {self.text!r}: OR is not supported; combine "
                          "conditions with AND.")
        if self.current.kind != "end":
            self.fail("AND or the end of the filter")
        return comparisons

    def parse_key(self):
        token = self.current
        if token.kind == "backtick":
            self.advance()
            return "attribute", _unquote(token.text)
        if token.kind != "word":
            self.fail("a key such as name or tags.<key>")
        self.advance()
        if self.current.kind != "dot":
            return "attribute", token.text
        self.advance()
        entity = token.text.lower()
        if entity not in ("attribute", "attributes", "tag", "tags"):
            raise invalid(f"Invalid entity type '{token.text}' in {self.text!r}. Valid entity "
                          "types are 'attribute', 'tag' and 'tags'.")
        part = self.current
        if part.kind in ("backtick", "string"):
            self.advance()
            key = _unquote(part.text)
        elif part.kind in ("word", "keyword"):
            words = [self.advance().text]
            while self.current.kind == "dot":
                self.advance()
                if self.current.kind not in ("word", "keyword", "number"):
                    self.fail("the rest of the key")
                words.append(self.advance().text)
            key = ".".join(words)
        else:
            self.fail("a key after the dot")
        return ("tag" if entity.startswith("tag") else "attribute"), key

    def parse_operator(self):
        token = self.current
        if token.kind == "op":
            self.advance()
            return "!=" if token.text == "<>" else token.text
        word = self.accept_keyword("LIKE", "ILIKE", "IN")
        if word:
            return word
        if self.accept_keyword("NOT"):
            if self.accept_keyword("IN"):
                return "NOT IN"
            self.fail("IN after NOT")
        self.fail("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)")

    def parse_value(self):
        token = self.current
        if token.kind == "string":
            self.advance()
            return _unquote(token.text)
        if token.kind == "number":
            self.advance()
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "lparen":
            self.advance()
            values = []
            while True:
                if len(values) == MAX_LIST_VALUES:
                    raise invalid(f"Invalid {self.what}: a list holds at most {MAX_LIST_VALUES} "
                                  "values.")
                if self.current.kind != "string":
                    self.fail("a quoted string in the list")
                values.append(_unquote(self.advance().text))
                if self.current.kind == "comma":
                    self.advance()
                    continue
                if self.current.kind == "rparen":
                    self.advance()
                    return values
                self.fail("',' or ')'")
        self.fail("a value: a quoted string, a number or a list ('a', 'b')")

    def parse_comparison(self):
        entity, key = self.parse_key()
        operator = self.parse_operator()
        value = self.parse_value()
        return Comparison(entity, key, operator, value)

    def parse_order_by(self):
        entity, key = self.parse_key()
        direction = self.accept_keyword("ASC", "DESC") or "ASC"
        if self.current.kind != "end":
            self.fail("ASC, DESC or the end of the clause")
        if entity != "attribute":
            raise invalid(f"Invalid order_by {self.text!r}: only attributes can order results.")
        return key, direction == "ASC"


def parse_filter(text):
    if not text or not text.strip():
        return []
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid(f"Invalid filter: it is {len(text)} characters long, at most "
                      f"{MAX_FILTER_LENGTH} are read.")
    return Parser(text).parse_filter()


STRING_OPERATORS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
TAG_OPERATORS = {"=", "!=", "LIKE", "ILIKE"}
NUMERIC_OPERATORS = {"=", "!=", "<", "<=", ">", ">="}


def like_regex(pattern):
    """SQL LIKE's pattern (% any run, _ any one character) as an anchored regular expression."""
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(parts) + "$"


def like_glob(pattern):
    """SQL LIKE's pattern as SQLite's case-sensitive GLOB pattern."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(char, char) for char in pattern)


class Like(Lookup):
    """Case-sensitive SQL LIKE, run by the database itself: LIKE on PostgreSQL, GLOB on SQLite
    (whose LIKE ignores case); a regular expression elsewhere."""

    lookup_name = "mlflow_like"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        return self._pattern_sql(compiler, connection, "{} ~ {}", like_regex)

    def as_postgresql(self, compiler, connection):
        # ESCAPE '': a backslash is a plain character, as on SQLite (a pattern ending with
        # one would otherwise be an error).
        return self._pattern_sql(compiler, connection, "{} LIKE {} ESCAPE ''", None)

    def as_sqlite(self, compiler, connection):
        return self._pattern_sql(compiler, connection, "{} GLOB {}", like_glob)

    def _pattern_sql(self, compiler, connection, template, convert):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if hasattr(self.rhs, "as_sql"):  # a pattern the query builds, used as it is
            if convert is not None:
                raise NotSupportedError(f"{type(self).__name__} takes a built pattern on "
                                        "PostgreSQL (and ILIKE on SQLite) only.")
            rhs, rhs_params = compiler.compile(self.rhs)
            return template.format(lhs, rhs), [*lhs_params, *rhs_params]
        pattern = convert(self.rhs) if convert else self.rhs
        return template.format(lhs, "%s"), [*lhs_params, pattern]


class ILike(Like):
    """SQL ILIKE: ILIKE on PostgreSQL, LIKE on SQLite (which ignores ASCII case)."""

    lookup_name = "mlflow_ilike"

    def as_sql(self, compiler, connection):
        return self._pattern_sql(compiler, connection, "{} ~* {}", like_regex)

    def as_postgresql(self, compiler, connection):
        return self._pattern_sql(compiler, connection, "{} ILIKE {} ESCAPE ''", None)

    def as_sqlite(self, compiler, connection):
        return self._pattern_sql(compiler, connection, "{} LIKE {}", None)


def _check(comparison, operators, kind):
    if comparison.operator not in operators:
        raise invalid(
            f"Invalid comparator '{comparison.operator}' for {kind} '{comparison.key}': use one "
            f"of {', '.join(sorted(operators))}.")
    is_list = isinstance(comparison.value, list)
    if comparison.operator in ("IN", "NOT IN") and not is_list:
        raise invalid(f"{comparison.operator} takes a list, such as ('a', 'b'), for "
                      f"'{comparison.key}'.")
    if comparison.operator not in ("IN", "NOT IN") and is_list:
        raise invalid(f"A list is only compared with IN or NOT IN ('{comparison.key}').")


def _string(comparison):
    if not isinstance(comparison.value, (str, list)):
        raise invalid(f"Expected a quoted string value for '{comparison.key}' (e.g. "
                      f"'my-value'), got {comparison.value}.")
    return comparison.value


def _value_q(field, operator, value):
    """`field` <operator> `value` for = LIKE ILIKE IN (the positive forms)."""
    if operator == "=":
        return Q(**{field: value})
    if operator == "IN":
        return Q(**{f"{field}__in": value})
    lookup = Like if operator == "LIKE" else ILike
    return Q(lookup(F(field), value))


POSITIVE = {"=": "=", "!=": "=", "IN": "IN", "NOT IN": "IN", "LIKE": "LIKE", "ILIKE": "ILIKE"}


def _tag_q(tags, owner, comparison):
    """Rows with a tag `key` whose value compares (`tags`: the tag rows, `owner`: their
    foreign key to the row); MLflow's special case: a missing mlflow.prompt.is_prompt tag
    counts as 'false'. Written as `pk IN (tag rows)` so that the (key, value) index finds
    the few tags instead of a probe per row."""
    _check(comparison, TAG_OPERATORS, "tag")
    value = _string(comparison)
    keyed = tags.filter(key=comparison.key)
    if comparison.operator == "!=":
        matching = keyed.exclude(value=value)
    else:
        matching = keyed.filter(_value_q("value", comparison.operator, value))
    condition = Q(pk__in=matching.values(owner))
    if comparison.key == IS_PROMPT_TAG:
        missing_matches = ("false" != value) if comparison.operator == "!=" else (
            comparison.operator == "=" and value == "false")
        if missing_matches:
            condition |= ~Q(pk__in=keyed.values(owner))
    return condition


def namespaces_that_may_match(pattern):
    """The namespaces whose models' MLflow names may match LIKE or ILIKE `pattern` (a
    superset, compared ignoring case), as a subquery; None for a pattern starting with %,
    which any may match. A name starts with its namespace's dotted path and a dot (but in the
    default namespace), so the pattern's start, up to its first %, meets that first: a
    namespace may match when its dotted path starts with what the pattern's start allows, or
    the pattern's start covers all of it."""
    from catalog.models import Namespace

    start = pattern.split("%", 1)[0]
    if not start:
        return None
    dotted = Concat(Replace(Substr("path", 2), Value("/"), Value(".")), Value("."),
                    output_field=CharField())
    allowed = Concat(
        Substr(Value(start, output_field=CharField()), 1, Length("dotted")),
        Case(When(dotted_length__gte=len(start), then=Value("%")), default=Value("")),
        output_field=CharField())
    rows = Namespace.objects.alias(dotted=dotted, dotted_length=Length("dotted"))
    return rows.filter(Q(path=names.default_namespace()) | Q(ILike(F("dotted"), allowed)))


def _pattern_q(field, operator, pattern, prefix):
    """`field` (the stored MLflow name) LIKE or ILIKE `pattern`, through an index.

    A pattern with a start ('abc_corp.claim.%', the usual one) is checked on the models of
    the namespaces that may match (their index finds them): its '_' wildcards leave a btree
    range nothing to narrow, its trigrams are those of every name in the namespace, and the
    planner's estimate of a LIKE is a guess (it took the trigram index for 10 rows that were
    99,801 at 100,000 models), so the pattern is compared on an expression no index serves.
    A pattern starting with % ('%fraud%') goes to the trigram index (PostgreSQL)."""
    lookup = Like if operator == "LIKE" else ILike
    namespaces = namespaces_that_may_match(pattern)
    if namespaces is None:
        return Q(lookup(F(field), pattern))
    checked = Concat(F(field), Value(""), output_field=CharField())
    return Q(lookup(checked, pattern)) & Q(**{f"{prefix}namespace__in": namespaces.values("pk")})


def _name_q(comparison, prefix):
    """= and IN find a model as a lookup by name does (each split of the name); LIKE and ILIKE
    match the stored MLflow name (CatalogModel.mlflow_name)."""
    _check(comparison, STRING_OPERATORS, "attribute")
    value = _string(comparison)
    operator = comparison.operator
    if operator in ("=", "!="):
        condition = names.lookup_q(value, prefix)
    elif operator in ("IN", "NOT IN"):
        condition = Q(Q(pk__in=[]), *(names.lookup_q(name, prefix) for name in value),
                      _connector=Q.OR)
    else:
        condition = _pattern_q(f"{prefix}mlflow_name", operator, value, prefix)
    return ~condition if operator in ("!=", "NOT IN") else condition


def _related_q(related, field, comparison):
    """Versions with a related row (`related`, already narrowed to the attribute's rows, with
    the compared column `field`) whose value compares; != and NOT IN: versions without one."""
    value = _string(comparison)
    matching = related.filter(_value_q(field, POSITIVE[comparison.operator], value))
    condition = Q(pk__in=matching.values("version_id"))
    return ~condition if comparison.operator in ("!=", "NOT IN") else condition


def model_conditions(comparisons):
    """Q for registered models (catalog models)."""
    from registry.models import ModelTag

    condition = Q()
    for comparison in comparisons:
        if comparison.entity == "tag":
            condition &= _tag_q(ModelTag.objects.all(), "catalog_model_id", comparison)
        elif comparison.key == "name":
            condition &= _name_q(comparison, "")
        else:
            raise invalid(f"Invalid attribute key '{comparison.key}' specified. Valid keys are "
                          "'name' and tags.<key>.")
    return condition


VERSION_KEYS = "'name', 'version_number', 'run_id', 'source_path' and tags.<key>"


def version_conditions(comparisons):
    """Q for model versions."""
    from registry.models import Artifact, Tag

    condition = Q()
    for comparison in comparisons:
        key = comparison.key
        if comparison.entity == "tag":
            condition &= _tag_q(Tag.objects.all(), "version_id", comparison)
        elif key == "name":
            condition &= _name_q(comparison, "catalog_model__")
        elif key == "version_number":
            _check(comparison, NUMERIC_OPERATORS, "attribute")
            number = comparison.value
            if isinstance(number, str) and re.fullmatch(r"\s*[0-9]+\s*", number):
                number = int(number)
            if not isinstance(number, int) or isinstance(number, bool):
                raise invalid(f"version_number is compared with a whole number, not {number!r}.")
            if abs(number) > MAX_NUMBER:
                raise invalid(f"version_number {number} is out of range (at most {MAX_NUMBER}).")
            lookups = {"=": "exact", "!=": "exact", "<": "lt", "<=": "lte", ">": "gt",
                       ">=": "gte"}
            single = Q(**{f"model_version__{lookups[comparison.operator]}": number})
            condition &= ~single if comparison.operator == "!=" else single
        elif key == "run_id":
            _check(comparison, STRING_OPERATORS, "attribute")
            condition &= _related_q(Tag.objects.filter(key=RUN_ID_TAG), "value", comparison)
        elif key == "source_path":
            _check(comparison, STRING_OPERATORS - {"IN", "NOT IN"}, "attribute")
            sources = Artifact.objects.filter(name=SOURCE_ARTIFACT)
            condition &= _related_q(sources, "uri", comparison)
        else:
            raise invalid(f"Invalid attribute key '{key}' specified. Valid keys are "
                          f"{VERSION_KEYS}.")
    return condition


MODEL_ORDER = {"name": "mlflow_name", "creation_timestamp": "create_at",
               "timestamp": "create_at", "last_updated_timestamp": "update_at"}
VERSION_ORDER = {"name": "catalog_model__mlflow_name", "version_number": "model_version",
                 "creation_timestamp": "create_at", "timestamp": "create_at",
                 "last_updated_timestamp": "update_at"}


def order_by(clauses, fields, tie_breakers):
    """ORM ordering for MLflow's order_by clauses (["name ASC", ...]), with MLflow's
    tie-breakers."""
    ordering, seen = [], set()
    for clause in clauses or []:
        if not isinstance(clause, str) or not clause.strip():
            raise invalid("An order_by clause is a key and ASC or DESC, such as 'name ASC'.")
        key, ascending = Parser(clause, "order_by").parse_order_by()
        if key not in fields:
            raise invalid(f"Invalid order_by key '{key}': use one of "
                          f"{', '.join(sorted(fields))}.")
        field = fields[key]
        if field in seen:
            raise invalid(f"order_by names '{key}' twice.")
        seen.add(field)
        ordering.append(field if ascending else f"-{field}")
    for field, ascending in tie_breakers:
        if field not in seen:
            ordering.append(field if ascending else f"-{field}")
    ordering.append("pk")
    return ordering
