import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Namespace
from catalog.services import save_catalog_model
from deployments.admin import DeploymentInline
from deployments.models import Deployment, EnvironmentVariable
from registry.models import ModelVersion
from tests.helpers import ENDPOINT, at

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:deployments_deployment_changelist")
ADD = reverse("admin:deployments_deployment_add")


def change_url(deployment):
    return reverse("admin:deployments_deployment_change", args=[deployment.pk])


def inline_management(variables=(), initial=0):
    form = {
        "environment_variables-TOTAL_FORMS": str(len(variables)),
        "environment_variables-INITIAL_FORMS": str(initial),
        "status_history-TOTAL_FORMS": "0", "status_history-INITIAL_FORMS": "0",
    }
    for index, variable in enumerate(variables):
        for key, value in variable.items():
            form[f"environment_variables-{index}-{key}"] = value
    return form


def shown(response):
    return [str(deployment) for deployment in response.context["cl"].result_list]


class TestChangelist:
    @pytest.fixture(autouse=True)
    def history(self, deploy):
        deploy(1, create_at=at("01-02 00:00"), environment="prod")
        deploy(2, create_at=at("01-09 00:00"), environment="prod", deployment_method="lambda")
        deploy(3, endpoint="https://staging.example.com/", environment="staging",
               rolling_strategy="canary", traffic_percent=10, status="pending")
        other = save_catalog_model(namespace="/xyz/cards", model_name="anomaly")
        deploy_other = ModelVersion.objects.create(catalog_model=other, model_version=1)
        from deployments import services

        services.record_deployment(model_version=deploy_other, endpoint="https://cards.example/",
                                   deployment_method="sagemaker", rolling_strategy="rolling")

    @pytest.mark.parametrize(("query", "expected"), [
        ("deployment_method__exact=lambda",
         ["/abc_corp/claim/doc_classification deployment 2"]),
        ("rolling_strategy__exact=canary", ["/abc_corp/claim/doc_classification deployment 3"]),
        ("status__exact=retired", ["/abc_corp/claim/doc_classification deployment 1"]),
        ("status__exact=pending", ["/abc_corp/claim/doc_classification deployment 3"]),
        ("environment=staging", ["/abc_corp/claim/doc_classification deployment 3"]),
        ("q=cards", ["/xyz/cards/anomaly deployment 1"]),
    ])
    def test_filters_and_search(self, admin_client, query, expected):
        response = admin_client.get(f"{CHANGELIST}?{query}")

        assert response.status_code == 200
        assert shown(response) == expected

    def test_filter_by_namespace(self, admin_client):
        namespace = Namespace.objects.get(path="/xyz/cards")

        response = admin_client.get(f"{CHANGELIST}?catalog_model__namespace__id__exact="
                                    f"{namespace.pk}")

        assert shown(response) == ["/xyz/cards/anomaly deployment 1"]
        assert "/abc_corp/claim" in response.content.decode()

    def test_methods_are_shown_with_their_labels(self, admin_client):
        page = admin_client.get(CHANGELIST).content.decode()

        for label in ("self hosted ECS", "AWS Lambda", "AWS SageMaker"):
            assert label in page

    def test_the_changelist_costs_the_same_for_4_or_34_rows(self, admin_client, deploy,
                                                            django_assert_max_num_queries):
        admin_client.get(CHANGELIST)
        with CaptureQueriesContext(connection) as few:
            assert admin_client.get(CHANGELIST).context["cl"].result_count == 4
        for index in range(30):
            deploy(index % 3 + 1, endpoint=f"https://e{index}.example.com/",
                   environment=f"env{index % 4}")

        with django_assert_max_num_queries(len(few.captured_queries)):
            assert admin_client.get(CHANGELIST).context["cl"].result_count == 34


class TestActions:
    def act(self, client, action, *deployments):
        return client.post(CHANGELIST, {
            "action": action, "_selected_action": [d.pk for d in deployments]}, follow=True)

    def test_retire_and_mark_failed(self, admin_client, deploy):
        first = deploy(1, endpoint="https://a.example.com/")
        second = deploy(2, endpoint="https://b.example.com/")

        self.act(admin_client, "retire", first)
        self.act(admin_client, "mark_failed", second)

        statuses = dict(Deployment.objects.values_list("deployment_id", "status"))
        assert statuses == {1: "retired", 2: "failed"}
        history = Deployment.objects.get(deployment_id=1).status_history.last()
        assert (history.status, history.user_name) == ("retired", "admin")

    def test_activate_a_pending_deployment(self, admin_client, deploy):
        serving = deploy(1, create_at=at("01-02 00:00"))
        pending = deploy(2, status="pending")

        self.act(admin_client, "activate", pending)

        assert list(Deployment.objects.active()) == [pending]
        serving.refresh_from_db()
        assert (serving.status, serving.replaced_by) == ("retired", pending)

    def test_promote_and_roll_back(self, admin_client, deploy):
        deploy(1, create_at=at("01-02 00:00"))
        canary = deploy(2, rolling_strategy="canary", traffic_percent=20,
                        create_at=at("01-03 00:00"))

        self.act(admin_client, "promote", canary)
        assert [d.model_version.model_version for d in Deployment.objects.active()] == [2]

        self.act(admin_client, "roll_back", canary)
        active = Deployment.objects.active().get()
        assert (active.model_version.model_version, active.deployment_id) == (1, 3)

    def test_a_refused_change_is_reported_and_the_others_go_on(self, admin_client, deploy):
        lone = deploy(1, endpoint="https://a.example.com/")
        other = deploy(2, endpoint="https://b.example.com/")
        deploy(3, endpoint="https://b.example.com/")

        page = self.act(admin_client, "roll_back", lone, Deployment.objects.get(deployment_id=3))

        messages = [str(message) for message in page.context["messages"]]
        assert any("no version to roll back to" in message for message in messages)
        assert any("Rolled back: 1 deployment(s)" in message for message in messages)
        assert Deployment.objects.get(pk=lone.pk).status == "active"
        assert Deployment.objects.active().get(endpoint="https://b.example.com/").model_version \
            == other.model_version


class TestRecording:
    def form(self, versions, **fields):
        return {
            "model_version": versions[3].pk, "deployment_id": "",
            "create_at_0": "2023-01-15", "create_at_1": "00:00:00", "endpoint": ENDPOINT,
            "environment": "prod", "deployment_method": "ecs", "rolling_strategy": "blue_green",
            "traffic_percent": "", "record_as": "active", **fields,
        }

    def test_the_add_page_records_through_the_service(self, admin_client, versions, deploy):
        earlier = deploy(2, create_at=at("01-09 00:00"))

        response = admin_client.post(ADD, self.form(versions) | inline_management([
            {"name": "FOO", "value": "BAR", "secret": ""},
            {"name": "TOKEN", "value": "added-in-admin", "secret": "on"},
        ]))

        assert response.status_code == 302, response.context["adminform"].form.errors
        recorded = Deployment.objects.get(model_version=versions[3])
        assert (recorded.deployment_id, recorded.status) == (2, "active")
        assert recorded.active_from == at("01-15 00:00")
        assert recorded.status_history.get().user_name == "admin"
        assert [(v.name, v.value, v.secret) for v in recorded.environment_variables.all()] == [
            ("FOO", "BAR", False), ("TOKEN", "added-in-admin", True)]
        earlier.refresh_from_db()
        assert (earlier.status, earlier.active_until) == ("retired", at("01-15 00:00"))

    @pytest.mark.parametrize(("fields", "says"), [
        ({"deployment_id": "1"}, "already has a deployment 1"),
        ({"create_at_0": "2023-01-05"}, "time order"),
        ({"rolling_strategy": "canary"}, "names its traffic percent"),
        ({"traffic_percent": "40"}, "Only a canary"),
        ({"endpoint": "ftp://x.example.com/"}, "http"),
    ])
    def test_what_the_service_refuses_shows_on_the_form(self, admin_client, versions, deploy,
                                                       fields, says):
        deploy(2, create_at=at("01-09 00:00"))

        response = admin_client.post(ADD, self.form(versions, **fields) | inline_management())

        assert response.status_code == 200
        assert says in response.content.decode()
        assert Deployment.objects.count() == 1

    def test_a_bad_variable_name_shows_on_the_form(self, admin_client, versions):
        response = admin_client.post(ADD, self.form(versions) | inline_management([
            {"name": "9LIVES", "value": "x"}]))

        assert response.status_code == 200
        assert "starts with a letter" in response.content.decode()
        assert not Deployment.objects.exists()

    def test_a_deployment_cannot_be_deleted_in_the_admin(self, admin_client, deploy):
        deployment = deploy(1)

        url = reverse("admin:deployments_deployment_delete", args=[deployment.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
        assert Deployment.objects.filter(pk=deployment.pk).exists()


class TestChangePage:
    @pytest.fixture
    def deployment(self, deploy):
        return deploy(3, rolling_strategy="canary", traffic_percent=10, environment_variables=[
            {"name": "FOO", "value": "BAR"},
            {"name": "SIGNING", "value": "planted-admin-secret", "secret": True}])

    def post(self, client, deployment, variables, **fields):
        rows = list(deployment.environment_variables.all())
        for index, variable in enumerate(variables):
            if index < len(rows):
                variable.setdefault("id", rows[index].pk)
            variable.setdefault("deployment", deployment.pk)
        return client.post(change_url(deployment), {
            "environment": "prod", "traffic_percent": "10", **fields,
        } | inline_management(variables, initial=len(rows)))

    def test_secret_values_are_write_only(self, admin_client, deployment):
        page = admin_client.get(change_url(deployment)).content.decode()

        assert "planted-admin-secret" not in page
        assert 'value="BAR"' in page
        assert "stored secret: leave empty to keep it" in page

    def test_an_empty_secret_keeps_the_stored_value(self, admin_client, deployment):
        response = self.post(admin_client, deployment, [
            {"name": "FOO", "value": "CHANGED", "secret": ""},
            {"name": "SIGNING", "value": "", "secret": "on"}])

        assert response.status_code == 302
        stored = {v.name: v.value for v in EnvironmentVariable.objects.all()}
        assert stored == {"FOO": "CHANGED", "SIGNING": "planted-admin-secret"}

    def test_a_url_password_in_a_variable_in_clear_is_masked_and_kept(self, admin_client,
                                                                       deploy):
        url = "postgres://svc:planted-url-pw@db.internal/claims"
        deployment = deploy(3, environment_variables=[{"name": "DATABASE_URL", "value": url}])

        page = admin_client.get(change_url(deployment)).content.decode()
        assert "planted-url-pw" not in page
        assert "postgres://svc:********@db.internal/claims" in page

        response = self.post(admin_client, deployment, [
            {"name": "DATABASE_URL", "secret": "",
             "value": "postgres://svc:********@db2.internal/claims"}], traffic_percent="")

        assert response.status_code == 302, response.content.decode()[-3000:]
        assert EnvironmentVariable.objects.get().value == url.replace("db.", "db2.")

    def test_a_secret_is_not_revealed_by_unticking_it(self, admin_client, deployment):
        response = self.post(admin_client, deployment, [
            {"name": "FOO", "value": "BAR", "secret": ""},
            {"name": "SIGNING", "value": "", "secret": ""}])

        assert response.status_code == 200
        assert "A stored secret stays secret" in response.content.decode()
        assert EnvironmentVariable.objects.get(name="SIGNING").secret is True

    def test_the_traffic_share_changes_through_the_service(self, admin_client, deployment):
        response = self.post(admin_client, deployment, [
            {"name": "FOO", "value": "BAR", "secret": ""},
            {"name": "SIGNING", "value": "", "secret": "on"}], traffic_percent="60")

        assert response.status_code == 302
        assert [(s.traffic_percent, s.reason) for s in deployment.status_history.all()] == [
            (10, "recorded"), (60, "traffic 60%")]

    def test_what_was_deployed_where_is_read_only(self, admin_client, deployment):
        self.post(admin_client, deployment, [
            {"name": "FOO", "value": "BAR", "secret": ""},
            {"name": "SIGNING", "value": "", "secret": "on"}],
            endpoint="https://elsewhere.example.com/", deployment_method="lambda")

        deployment.refresh_from_db()
        assert (deployment.endpoint, deployment.deployment_method) == (ENDPOINT, "ecs")

    def test_the_status_history_is_shown_read_only(self, admin_client, deployment):
        page = admin_client.get(change_url(deployment)).content.decode()

        assert "Status history" in page
        assert 'name="status_history-0-status"' not in page


def test_deployment_inline_lists_where_a_version_runs(deploy, versions, superuser):
    deploy(3, endpoint="https://a.example.com/")
    deploy(3, endpoint="https://b.example.com/", create_at=at("01-20 00:00"))
    deploy(2, endpoint="https://c.example.com/")
    request = RequestFactory().get("/")
    request.user = superuser
    inline = DeploymentInline(ModelVersion, admin.site)

    formset = inline.get_formset(request, versions[3])(instance=versions[3],
                                                       queryset=inline.get_queryset(request))

    assert [form.instance.endpoint for form in formset.forms] == [
        "https://a.example.com/", "https://b.example.com/"]
    assert not inline.has_add_permission(request, versions[3])
    assert not inline.has_change_permission(request, versions[3])
