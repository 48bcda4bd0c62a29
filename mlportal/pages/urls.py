"""The auditors' pages (mlportal.pages.views), included from the root urls."""

from django.urls import path

from mlportal.pages import compare, views

app_name = "pages"

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("search/export.csv", views.search_export, name="search-export"),
    # Two versions of a model side by side, and lineages (the model, the versions in the query).
    path("compare/", compare.compare_page, name="compare"),
    path("lineage/", compare.lineage_page, name="lineage"),
    # A model's natural key: /models/abc_corp/claim/doc_classification/
    path("models/<path:key>/", views.model_page, name="model"),
    path("data-sources/<path:name>/", views.data_source_page, name="data-source"),
    # An endpoint is a URL itself: it goes in the query string.
    path("endpoints/", views.endpoint_page, name="endpoint"),
    path("changes/", views.change_log, name="changes"),
    path("changes/export.csv", views.change_log_export, name="changes-export"),
]
