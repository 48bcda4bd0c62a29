"""MLflow's REST paths (mlflow/protos/model_registry.proto), mounted by mlportal.urls under
/api/2.0/mlflow/ and /api/2.0/preview/mlflow/."""

from django.urls import path, re_path

from registry.mlflow import views

urlpatterns = [
    path("registered-models/create", views.CreateRegisteredModel.as_view()),
    path("registered-models/get", views.GetRegisteredModel.as_view()),
    path("registered-models/update", views.UpdateRegisteredModel.as_view()),
    path("registered-models/rename", views.RenameRegisteredModel.as_view()),
    path("registered-models/delete", views.DeleteRegisteredModel.as_view()),
    path("registered-models/search", views.SearchRegisteredModels.as_view()),
    path("registered-models/get-latest-versions", views.GetLatestVersions.as_view()),
    path("registered-models/set-tag", views.SetRegisteredModelTag.as_view()),
    path("registered-models/delete-tag", views.DeleteRegisteredModelTag.as_view()),
    path("registered-models/alias", views.RegisteredModelAlias.as_view()),
    path("model-versions/create", views.CreateModelVersion.as_view()),
    path("model-versions/get", views.GetModelVersion.as_view()),
    path("model-versions/update", views.UpdateModelVersion.as_view()),
    path("model-versions/delete", views.DeleteModelVersion.as_view()),
    path("model-versions/search", views.SearchModelVersions.as_view()),
    path("model-versions/get-download-uri", views.GetModelVersionDownloadUri.as_view()),
    path("model-versions/set-tag", views.SetModelVersionTag.as_view()),
    path("model-versions/delete-tag", views.DeleteModelVersionTag.as_view()),
    path("model-versions/transition-stage", views.TransitionModelVersionStage.as_view()),
    re_path(r"^(runs|experiments|logged-models)/", views.NoRuns.as_view()),
    re_path(r"^.*$", views.UnknownEndpoint.as_view()),
]
