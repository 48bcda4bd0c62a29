from django.core.paginator import Paginator
from rest_framework import pagination


class FirstPageCountingPaginator(Paginator):
    """Django's paginator, except that a first page with room to spare counts its own rows:
    a lookup by natural key or alias (one row) or a short list needs no COUNT query. A full
    first page still asks the database for the count."""

    def page(self, number):
        if str(number) != "1" or self.orphans:
            return super().page(number)
        rows = list(self.object_list[: self.per_page + 1])
        if len(rows) <= self.per_page:
            self.__dict__["count"] = len(rows)  # Paginator.count is a cached_property
        return self._get_page(rows[: self.per_page], 1, self)


class Pagination(pagination.PageNumberPagination):
    django_paginator_class = FirstPageCountingPaginator
    page_size_query_param = "page_size"
    max_page_size = 1000
