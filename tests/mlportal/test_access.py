"""The access rule's behaviour: grants on namespaces, groups, owners, data sources, auditors,
and the guard behind every write."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse

from catalog.models import CatalogModel, DataSource, Namespace
from catalog.services import ensure_namespace, save_catalog_model, save_data_source
from mlportal import access
from mlportal.audit import change_context
from mlportal.models import Grant, ObjectChange

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
NAMESPACES = "/api/v1/namespaces/"
DATA_SOURCES = "/api/v1/data-sources/"
GRANTS = "/api/v1/grants/"


@pytest.fixture
def alice(make_user, grant):
    """An editor of /team_a."""
    user = make_user("alice")
    grant(user, "/team_a")
    return user


@pytest.fixture
def alice_api(client_for, alice):
    return client_for(alice)


def model_in(path, name="m", **fields):
    return save_catalog_model(namespace=path, model_name=name, **fields)


class TestEditors:
    def test_an_editor_creates_models_in_their_namespace_and_below(self, alice_api):
        for path in ["/team_a", "/team_a/claims/motor"]:
            response = alice_api.post(MODELS, {"namespace": path, "model_name": "m"},
                                      format="json")
            assert response.status_code == 201, response.json()
        assert Namespace.objects.filter(path="/team_a/claims").exists()

    def test_an_editor_cannot_create_models_elsewhere(self, alice_api, reader):
        for path in ["/team_b", "/team_ab", "/team"]:
            response = alice_api.post(MODELS, {"namespace": path, "model_name": "m"},
                                      format="json")
            assert response.status_code == 403
            assert "/team_a" in response.json()["detail"]
        assert not CatalogModel.objects.exists()
        assert set(Namespace.objects.values_list("path", flat=True)) == {"/team_a"}

    def test_an_editor_changes_and_deletes_models_in_their_namespace(self, alice_api):
        model = model_in("/team_a/claims")

        assert alice_api.patch(f"{MODELS}{model.pk}/", {"description": "new"},
                               format="json").status_code == 200
        assert alice_api.delete(f"{MODELS}{model.pk}/").status_code == 204

    def test_an_editor_reads_everything_but_changes_nothing_elsewhere(self, alice_api):
        model = model_in("/team_b", description="theirs")

        assert alice_api.get(f"{MODELS}{model.pk}/").status_code == 200
        assert alice_api.patch(f"{MODELS}{model.pk}/", {"description": "mine"},
                               format="json").status_code == 403
        assert alice_api.delete(f"{MODELS}{model.pk}/").status_code == 403
        model.refresh_from_db()
        assert model.description == "theirs"

    def test_an_editor_cannot_move_a_model_out_of_their_namespace(self, alice_api):
        model = model_in("/team_a")

        response = alice_api.patch(f"{MODELS}{model.pk}/", {"namespace": "/team_b"},
                                   format="json")

        assert response.status_code == 403
        model.refresh_from_db()
        assert model.namespace.path == "/team_a"
        assert not Namespace.objects.filter(path="/team_b").exists()

    def test_an_editor_cannot_move_a_model_into_their_namespace(self, alice_api):
        model = model_in("/team_b")

        response = alice_api.patch(f"{MODELS}{model.pk}/", {"namespace": "/team_a"},
                                   format="json")

        assert response.status_code == 403

    def test_a_grant_through_a_group_counts(self, make_user, client_for, grant):
        bob = make_user("bob")
        team = Group.objects.create(name="team-b")
        bob.groups.add(team)
        grant(team, "/team_b")

        response = client_for(bob).post(MODELS, {"namespace": "/team_b/x", "model_name": "m"},
                                        format="json")

        assert response.status_code == 201

    def test_bad_input_is_a_400_before_the_namespace_is_judged(self, alice_api):
        response = alice_api.post(MODELS, {"namespace": "Team B", "model_name": "m"},
                                  format="json")
        assert response.status_code == 400
        assert "namespace" in response.json()


class TestNamespaces:
    def test_editors_create_sub_namespaces_below_their_grant(self, alice_api):
        assert alice_api.post(NAMESPACES, {"path": "/team_a/new"},
                              format="json").status_code == 201

    def test_only_superusers_create_top_level_namespaces(self, alice_api, admin_api):
        response = alice_api.post(NAMESPACES, {"path": "/team_c"}, format="json")

        assert response.status_code == 403
        assert admin_api.post(NAMESPACES, {"path": "/team_c"}, format="json").status_code == 201

    def test_a_namespace_holding_grants_cannot_be_deleted(self, admin_api, alice):
        namespace = Namespace.objects.get(path="/team_a")

        response = admin_api.delete(f"{NAMESPACES}{namespace.pk}/")

        assert response.status_code == 409
        assert "alice" in response.json()["detail"]


class TestDataSources:
    @pytest.fixture
    def shared(self):
        model_in("/team_a", "a", data_sources=[{"name": "warehouse"}])
        model_in("/team_b", "b", data_sources=[{"name": "warehouse"}])
        model_in("/team_a", "a2", data_sources=[{"name": "team a lake"}])
        save_data_source(name="unused")

    def test_any_editor_creates_one(self, alice_api, reader_api):
        assert alice_api.post(DATA_SOURCES, {"name": "new"}, format="json").status_code == 201
        assert reader_api.post(DATA_SOURCES, {"name": "new2"}, format="json").status_code == 403

    def test_an_editor_changes_one_fed_only_to_their_namespaces(self, alice_api, shared):
        lake = DataSource.objects.get(name="team a lake")
        unused = DataSource.objects.get(name="unused")

        assert alice_api.patch(f"{DATA_SOURCES}{lake.pk}/", {"type": "s3"},
                               format="json").status_code == 200
        assert alice_api.delete(f"{DATA_SOURCES}{unused.pk}/").status_code == 204

    def test_one_shared_with_another_team_needs_a_superuser(self, alice_api, admin_api, shared):
        warehouse = DataSource.objects.get(name="warehouse")

        response = alice_api.patch(f"{DATA_SOURCES}{warehouse.pk}/", {"type": "s3"},
                                   format="json")

        assert response.status_code == 403
        assert "every namespace it serves" in response.json()["detail"]
        assert admin_api.patch(f"{DATA_SOURCES}{warehouse.pk}/", {"type": "s3"},
                               format="json").status_code == 200

    def test_the_rule_on_rows_and_on_querysets_agree(self, alice, shared):
        writable = access.restrict(DataSource.objects.all(), alice, "change")

        assert sorted(writable.values_list("name", flat=True)) == ["team a lake", "unused"]
        assert [source.name for source in DataSource.objects.all()
                if access.can(alice, "change", source)] == ["team a lake", "unused"]

    def test_an_editor_links_a_shared_one_to_their_model(self, alice_api, shared):
        response = alice_api.post(MODELS, {"namespace": "/team_a", "model_name": "c",
                                           "data_sources": [{"name": "warehouse"}]}, format="json")
        assert response.status_code == 201


class TestOwners:
    def test_an_owner_grants_at_or_below_their_namespace(self, make_user, client_for, grant):
        carol = make_user("carol")
        grant(carol, "/team_a", "owner")
        make_user("dan")
        client = client_for(carol)

        for path in ["/team_a", "/team_a/claims"]:
            response = client.post(GRANTS, {"namespace": path, "user": "dan", "role": "editor"},
                                   format="json")
            assert response.status_code == 201, response.json()
        response = client.post(GRANTS, {"namespace": "/team_b", "user": "dan"}, format="json")
        assert response.status_code == 403
        assert Grant.objects.filter(user__username="dan").count() == 2

    def test_an_editor_does_not_manage_grants(self, alice_api, make_user):
        make_user("dan")
        response = alice_api.post(GRANTS, {"namespace": "/team_a", "user": "dan"}, format="json")
        assert response.status_code == 403

    def test_an_owner_below_cannot_raise_their_grant_above(self, make_user, client_for, grant):
        carol = make_user("carol")
        own = grant(carol, "/team_a/claims", "owner")
        client = client_for(carol)

        moved = client.patch(f"{GRANTS}{own.pk}/", {"namespace": "/team_a"}, format="json")
        added = client.post(GRANTS, {"namespace": "/team_a", "user": "carol", "role": "owner"},
                            format="json")

        assert (moved.status_code, added.status_code) == (403, 403)
        assert access.granted_paths(carol) == ["/team_a/claims"]


class TestAuditors:
    def test_auditors_read_the_audit_trail_and_nobody_else(self, auditor, alice, reader):
        assert access.can_view_audit(auditor)
        assert not access.can_view_audit(alice)
        assert not access.can_view_audit(reader)
        assert access.restrict(ObjectChange.objects.all(), reader).query.is_empty()

    def test_auditors_write_nothing_even_with_a_grant(self, auditor, grant, client_for):
        grant(auditor, "/team_a")
        client = client_for(auditor)

        response = client.post(MODELS, {"namespace": "/team_a", "model_name": "m"},
                               format="json")

        assert response.status_code == 403
        assert "Auditors" in response.json()["detail"]

    def test_the_audit_trail_admin_is_for_auditors(self, client, auditor, reader):
        url = reverse("admin:mlportal_objectchange_changelist")
        client.force_login(reader)
        assert client.get(url).status_code == 403
        client.force_login(auditor)
        assert client.get(url).status_code == 200


class TestGuard:
    """The backstop: a write the explicit checks missed is refused at save time."""

    def test_a_service_run_for_a_user_is_held_to_their_grants(self, alice):
        with pytest.raises(PermissionDenied), change_context(user=alice, source="command"):
            model_in("/team_b")
        with change_context(user=alice, source="command"):
            model_in("/team_a")

        assert list(CatalogModel.objects.values_list("namespace__path", flat=True)) == ["/team_a"]

    def test_deleting_for_a_user_outside_their_grants_is_refused(self, alice):
        model = model_in("/team_b")
        with pytest.raises(PermissionDenied), transaction.atomic(), change_context(user=alice):
            model.delete()
        assert CatalogModel.objects.filter(pk=model.pk).exists()

    def test_work_without_a_user_is_not_held(self):
        with change_context(source="command"):
            ensure_namespace("/anywhere")
        assert Namespace.objects.filter(path="/anywhere").exists()


class TestAdmin:
    @pytest.fixture
    def alice_client(self, client, alice):
        client.force_login(alice)
        return client

    def test_every_account_signs_in_to_the_admin(self, client, reader):
        assert not reader.is_staff
        response = client.post(reverse("admin:login"),
                               {"username": "reader", "password": "reader-password"})
        assert response.status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200

    def test_a_model_elsewhere_shows_read_only(self, alice_client):
        theirs, mine = model_in("/team_b"), model_in("/team_a")

        def can_change(model):
            response = alice_client.get(
                reverse("admin:catalog_catalogmodel_change", args=[model.pk]))
            assert response.status_code == 200
            return response.context["has_change_permission"]

        assert (can_change(theirs), can_change(mine)) == (False, True)

    def test_posting_to_a_model_elsewhere_is_refused(self, alice_client):
        theirs = model_in("/team_b", description="theirs")

        response = alice_client.post(
            reverse("admin:catalog_catalogmodel_change", args=[theirs.pk]),
            {"namespace": theirs.namespace_id, "model_name": "m", "description": "mine"},
        )

        assert response.status_code == 403
        theirs.refresh_from_db()
        assert theirs.description == "theirs"

    def test_the_namespace_choices_are_the_writable_ones(self, alice_client):
        ensure_namespace("/team_b")
        ensure_namespace("/team_a/claims")

        form = alice_client.get(reverse("admin:catalog_catalogmodel_add")).context["adminform"]
        choices = form.form.fields["namespace"].queryset

        assert sorted(choices.values_list("path", flat=True)) == ["/team_a", "/team_a/claims"]

    def test_the_namespace_autocomplete_offers_the_writable_ones(self, alice_client):
        ensure_namespace("/team_b")
        response = alice_client.get(reverse("admin:autocomplete"), {
            "app_label": "catalog", "model_name": "catalogmodel", "field_name": "namespace",
            "term": "team",
        })
        assert [item["text"] for item in response.json()["results"]] == ["/team_a"]

    def test_an_editor_creates_a_sub_namespace_but_not_a_top_level_one(self, alice_client):
        url = reverse("admin:catalog_namespace_add")

        refused = alice_client.post(url, {"path": "/team_c", "description": ""})
        created = alice_client.post(url, {"path": "/team_a/new", "description": ""})

        assert "only below your grants (/team_a)" in refused.content.decode()
        assert created.status_code == 302
        assert not Namespace.objects.filter(path="/team_c").exists()
        assert Namespace.objects.filter(path="/team_a/new").exists()

    def test_actions_leave_the_selected_rows_elsewhere_as_they_were(self, alice_client):
        mine, theirs = model_in("/team_a"), model_in("/team_b")

        response = alice_client.post(reverse("admin:catalog_catalogmodel_changelist"), {
            "action": "delete_selected", "_selected_action": [mine.pk, theirs.pk], "post": "yes",
        }, follow=True)

        assert "1 of the selected rows are outside your grants" in response.content.decode()
        assert list(CatalogModel.objects.all()) == [theirs]

    def test_an_owner_grants_in_the_admin(self, client, make_user, grant):
        carol = make_user("carol")
        grant(carol, "/team_a", "owner")
        dan = make_user("dan")
        client.force_login(carol)
        team_a = Namespace.objects.get(path="/team_a")

        response = client.post(reverse("admin:mlportal_grant_add"),
                               {"namespace": team_a.pk, "user": dan.pk, "role": "editor"})
        duplicate = client.post(reverse("admin:mlportal_grant_add"),
                                {"namespace": team_a.pk, "user": dan.pk, "role": "owner"})

        assert response.status_code == 302
        assert "has a grant on this namespace already" in duplicate.content.decode()
        assert access.granted_paths(dan) == ["/team_a"]
