"""Text search: full-text with GIN indexes on PostgreSQL, a substring match elsewhere.

One code path picks by `connection.vendor`. On PostgreSQL a row's document is its text
fields with every run of non-alphanumeric characters read as a space (so that
"doc_classification", "alice@example.com" and URLs split into words), and each word of
the query matches the words that start with it. The GIN index on exactly that expression
is created by the migrations of the app that owns the table (`gin_index`); nothing else
may build the document.
"""

import re

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Func, Lookup, Q, TextField, Value

CONFIG = "simple"
WORD = re.compile(r"[^\W_]+")


def words(text):
    return [word.lower() for word in WORD.findall(text or "")]


def _spaced(field_name):
    return Func(F(field_name), Value("[^[:alnum:]]+"), Value(" "), Value("g"),
                function="regexp_replace", output_field=TextField())


def document(*field_names):
    return SearchVector(*[_spaced(name) for name in field_names], config=CONFIG)


def gin_index(name, *field_names):
    return GinIndex(document(*field_names), name=name)


def every_word_in(text, field_names):
    """Q: each word of `text` is in one of `field_names` (a substring match)."""
    condition = Q()
    for term in words(text):
        any_field = Q()
        for name in field_names:
            any_field |= Q(**{f"{name}__icontains": term})
        condition &= any_field
    return condition


class _AnyOf(Lookup):
    """SQL: `lhs = ANY(rhs)`, rhs an array."""

    lookup_name = "any_of"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _among(queryset, found):
    """`queryset` narrowed to the pks that `found` (a values("pk") query) selects, found
    first. `pk IN (found)` lets the planner guess how many match; for a word it has no
    statistics of, it guesses thousands and walks the whole table in the order asked for,
    looking for rows that never come. ANY(ARRAY(found)) runs `found` once, on its indexes,
    then reads the rows it names by primary key."""
    return queryset.filter(_AnyOf(F("pk"), ArraySubquery(found)))


def narrow(queryset, text, field_names):
    """`queryset` filtered by its own rows' `field_names` holding every word of `text` (on
    PostgreSQL through their full-text index, in the same scan: for a further filter on
    the rows found, where matches() would read them twice)."""
    terms = words(text)
    if not terms:
        return queryset
    if connection.vendor != "postgresql":
        return queryset.filter(every_word_in(text, field_names))
    query = SearchQuery(" & ".join(f"{term}:*" for term in terms), config=CONFIG,
                        search_type="raw")
    return queryset.alias(_document=document(*field_names)).filter(_document=query)


def matches(queryset, text, field_names, *, also=()):
    """`queryset` narrowed to the rows whose `field_names` hold every word of `text`, or
    that satisfy one of the conditions `also` (Q objects on the same model)."""
    terms = words(text)
    if not terms:
        return queryset
    if connection.vendor != "postgresql":
        condition = every_word_in(text, field_names)
        for extra in also:
            condition |= extra
        return queryset.filter(condition)
    query = SearchQuery(" & ".join(f"{term}:*" for term in terms), config=CONFIG,
                        search_type="raw")
    model = queryset.model
    found = model._base_manager.alias(_document=document(*field_names)).filter(_document=query)
    if not also:
        return _among(queryset, found.values("pk").order_by())
    # A UNION lets each branch use its own index, where an OR would scan the table; ANY
    # ignores duplicates, so UNION ALL spares removing them.
    branches = [model._base_manager.filter(extra).values("pk").order_by() for extra in also]
    return _among(queryset, found.values("pk").order_by().union(*branches, all=True))
