"""The auditors' pages (mlportal.pages.views), included from the root urls."""

from django.urls import path

from mlportal.pages import views

app_name = "pages"

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("search/export.csv", views.search_export, name="search-export"),
    # A model's natural key: /models/abc_corp/claim/doc_classification/
    # Two versions side by side, and a model's lineage: ?model=/abc_corp/claim/doc_classification
    path("compare/", views.compare_page, name="compare"),
    path("lineage/", views.lineage_page, name="lineage"),
    path("models/<path:key>/", views.model_page, name="model"),
    path("data-sources/<path:name>/", views.data_source_page, name="data-source"),
    # An endpoint is a URL itself: it goes in the query string.
    path("endpoints/", views.endpoint_page, name="endpoint"),
    path("changes/", views.change_log, name="changes"),
    path("changes/export.csv", views.change_log_export, name="changes-export"),
]
