"""sync_catalog: catalog documents committed to real git repositories, loaded into the catalog."""

import json
from pathlib import Path

import pytest

from catalog.models import CatalogModel, DataSource
from catalog.services import save_catalog_model
from catalog.sync import sync_catalog
from mlportal.models import ObjectChange

pytestmark = pytest.mark.django_db

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "catalog_model.json").read_text()

FRAUD_CARD = """
---
namespace: /abc_corp/claim
model_name: fraud_scoring
owner: bob@example.com
description: Scores each claim for fraud.
data_sources:
  - name: claim history datawarehouse
    type: snowflake
inference:
  input:
    description: A claim
    schema: {type: object, required: [amount]}
---
# Fraud scoring

Gradient boosting over the claim history. <script>alert("planted")</script>

[docs](javascript:alert(1)) and [the repository](https://git.example.com/fraud).
"""

PRICING = """
namespace: /abc_corp/underwriting
model_name: risk_pricing
owner: carol@example.com
"""


@pytest.fixture
def cards(repo):
    repo.write("cards/fraud_scoring.md", FRAUD_CARD)
    repo.write("cards/risk_pricing.yaml", PRICING)
    repo.write("cards/doc_classification.json", EXAMPLE)
    repo.write("README.md", "# Our model cards\n\nOne file per model.\n")
    repo.commit("Three model cards")
    return repo


def model(name):
    return CatalogModel.objects.select_related("namespace").get(model_name=name)


def test_first_sync_creates_a_model_for_each_card(cards, run_sync):
    status, out, err = run_sync(cards.path)

    assert status == 0, err
    assert "3 created, 0 updated, 0 unchanged, 0 failed, 0 no longer in Git" in out
    assert "created: /abc_corp/claim/fraud_scoring (cards/fraud_scoring.md)" in out
    assert "[##############################] 3/3" in err  # the progress bar
    fraud = model("fraud_scoring")
    assert fraud.namespace.path == "/abc_corp/claim"
    assert fraud.owner == "bob@example.com"
    assert fraud.inference_input_schema == {"type": "object", "required": ["amount"]}
    assert [source.name for source in fraud.data_sources.all()] == [
        "claim history datawarehouse"]
    assert fraud.git_source == {"repository": str(cards.path), "path": "cards/fraud_scoring.md",
                                "commit": cards.git("rev-parse", "HEAD"), "in_git": True}
    assert fraud.git_managed_fields == [
        "namespace", "model_name", "description", "owner", "data_sources",
        "inference.input.description", "inference.input.schema"]
    example = model("doc_classification")
    assert example.url == json.loads(EXAMPLE)["url"]
    assert example.model_card == ""


def test_the_markdown_body_is_the_model_card_shown_sanitized(cards, run_sync):
    run_sync(cards.path)

    fraud = model("fraud_scoring")
    assert fraud.model_card.startswith("# Fraud scoring")
    html = fraud.model_card_html()
    assert "<h1>Fraud scoring</h1>" in html
    assert "<script" not in html and "planted" not in html.replace("&quot;planted", "")
    assert "javascript:" not in html
    assert '<a href="https://git.example.com/fraud" rel="noopener noreferrer">' in html


def test_a_changed_card_updates_its_model(cards, run_sync):
    run_sync(cards.path)
    cards.write("cards/risk_pricing.yaml", PRICING.replace("carol@", "dave@"))
    commit = cards.commit("Dave owns pricing now")

    status, out, _ = run_sync(cards.path)

    assert status == 0
    assert "0 created, 1 updated, 2 unchanged, 0 failed" in out
    assert "updated: /abc_corp/underwriting/risk_pricing (cards/risk_pricing.yaml): owner" in out
    pricing = model("risk_pricing")
    assert pricing.owner == "dave@example.com"
    assert pricing.git_commit == commit
    assert model("fraud_scoring").git_commit != commit  # unchanged cards keep their commit


def test_syncing_again_changes_nothing(cards, run_sync):
    run_sync(cards.path)
    stamps = dict(CatalogModel.objects.values_list("model_name", "update_at"))
    changes = ObjectChange.objects.count()

    status, out, _ = run_sync(cards.path)

    assert status == 0
    assert "0 created, 0 updated, 3 unchanged, 0 failed, 0 no longer in Git" in out
    assert dict(CatalogModel.objects.values_list("model_name", "update_at")) == stamps
    assert ObjectChange.objects.count() == changes


def test_a_new_commit_that_leaves_the_cards_alone_changes_nothing(cards, run_sync):
    run_sync(cards.path)
    cards.write("README.md", "# Our model cards\n\nReviewed in pull requests.\n")
    cards.commit("Docs")
    changes = ObjectChange.objects.count()

    status, out, _ = run_sync(cards.path)

    assert "3 unchanged" in out and status == 0
    assert ObjectChange.objects.count() == changes


@pytest.mark.parametrize(("content", "reason"), [
    ("namespace: /abc\nmodel_name: bad\nowner: not-an-email\n",
     "owner: Enter a valid email address."),
    ("namespace: abc\nmodel_name: bad\n", "namespace: A namespace is a path"),
    ("model_name: no_namespace\n", "namespace: This field is required."),
    ("namespace: /abc\nmodel_name: bad\nownr: bob@example.com\n",
     "Unknown field(s): ownr. A catalog document has: namespace, model_name"),
    ("namespace: /abc\nmodel_name: bad\ninference: {input: {schema: {type: nope}}}\n",
     "inference.input.schema: Not a valid JSON Schema"),
    ("namespace: /abc\nmodel_name: [unclosed\n", "Not valid YAML"),
    ("- just\n- a list\n", "A catalog document is a mapping"),
])
def test_a_bad_card_is_reported_while_the_others_load(cards, run_sync, content, reason):
    cards.write("cards/bad.yaml", content)
    cards.commit("A bad card")

    status, out, err = run_sync(cards.path)

    assert status == 1
    assert f"failed: cards/bad.yaml: {reason}" in err
    assert "1 file(s) failed" in err
    assert "3 created, 0 updated, 0 unchanged, 1 failed" in out
    assert CatalogModel.objects.count() == 3
    assert not CatalogModel.objects.filter(model_name="bad").exists()


def test_an_invalid_json_card_names_the_line(cards, run_sync):
    cards.write("cards/broken.json", '{"namespace": "/abc",\n "model_name": }')
    cards.commit()

    status, _, err = run_sync(cards.path)

    assert status == 1
    assert "failed: cards/broken.json: Not valid JSON: Expecting value: line 2" in err


def test_a_bad_card_for_an_existing_model_leaves_it_as_it_was(cards, run_sync):
    run_sync(cards.path)
    cards.write("cards/risk_pricing.yaml", PRICING.replace("carol@example.com", "carol"))
    cards.commit("Typo")

    status, _, err = run_sync(cards.path)

    assert status == 1
    assert "cards/risk_pricing.yaml: owner: Enter a valid email address." in err
    pricing = model("risk_pricing")
    assert pricing.owner == "carol@example.com"
    assert pricing.in_git  # the file is still there, only broken


def test_a_removed_card_keeps_its_model_marked_no_longer_in_git(cards, run_sync):
    run_sync(cards.path)
    cards.remove("cards/risk_pricing.yaml")
    cards.commit("Pricing retired from Git")

    status, out, _ = run_sync(cards.path)

    assert status == 0
    assert "marked no longer in Git: /abc_corp/underwriting/risk_pricing" in out
    assert "0 created, 0 updated, 2 unchanged, 0 failed, 1 no longer in Git" in out
    pricing = model("risk_pricing")
    assert pricing.owner == "carol@example.com"
    assert not pricing.in_git
    assert pricing.git_status == "no longer in Git"
    assert run_sync(cards.path)[1].endswith("0 failed, 0 no longer in Git.\n")


def test_a_card_that_returns_puts_its_model_back_in_git(cards, run_sync):
    run_sync(cards.path)
    cards.remove("cards/risk_pricing.yaml")
    cards.commit()
    run_sync(cards.path)
    cards.write("cards/risk_pricing.yaml", PRICING)
    cards.commit()

    _, out, _ = run_sync(cards.path)

    assert "updated: /abc_corp/underwriting/risk_pricing (cards/risk_pricing.yaml): in_git" in out
    assert model("risk_pricing").in_git


def test_a_card_moved_to_another_file_keeps_its_model(cards, run_sync):
    run_sync(cards.path)
    pricing_id = model("risk_pricing").pk
    cards.move("cards/risk_pricing.yaml", "cards/underwriting/risk_pricing.yml")
    cards.commit("Folders per team")

    status, out, _ = run_sync(cards.path)

    assert status == 0
    assert "0 created, 1 updated, 2 unchanged, 0 failed, 0 no longer in Git" in out
    assert ("updated: /abc_corp/underwriting/risk_pricing (cards/underwriting/risk_pricing.yml)"
            ": source") in out
    pricing = model("risk_pricing")
    assert pricing.pk == pricing_id
    assert pricing.git_path == "cards/underwriting/risk_pricing.yml"
    assert pricing.in_git


def test_a_card_renaming_its_model_creates_the_new_one_and_keeps_the_old(cards, run_sync):
    run_sync(cards.path)
    cards.write("cards/risk_pricing.yaml", PRICING.replace("risk_pricing", "risk_pricing_v2"))
    cards.commit()

    _, out, _ = run_sync(cards.path)

    assert "1 created, 0 updated, 2 unchanged, 0 failed, 1 no longer in Git" in out
    assert model("risk_pricing_v2").in_git
    assert not model("risk_pricing").in_git


def test_a_field_dropped_from_the_card_keeps_its_value_and_becomes_editable(cards, run_sync):
    run_sync(cards.path)
    cards.write("cards/risk_pricing.yaml", PRICING.replace("owner: carol@example.com\n", ""))
    cards.commit()

    _, out, _ = run_sync(cards.path)

    assert "risk_pricing.yaml): managed_fields" in out
    pricing = model("risk_pricing")
    assert pricing.owner == "carol@example.com"
    assert not pricing.managed_in_git("owner")


def test_dry_run_prints_what_would_change_and_writes_nothing(cards, run_sync):
    status, out, _ = run_sync(cards.path, "--dry-run")

    assert status == 0
    assert "would be created: /abc_corp/claim/fraud_scoring (cards/fraud_scoring.md)" in out
    assert "Dry run, nothing written" in out and "3 created" in out
    assert not CatalogModel.objects.exists()
    assert not DataSource.objects.exists()
    assert not ObjectChange.objects.exists()


def test_dry_run_of_an_update_and_a_removal(cards, run_sync):
    run_sync(cards.path)
    cards.write("cards/fraud_scoring.md", FRAUD_CARD.replace("bob@", "erin@"))
    cards.remove("cards/risk_pricing.yaml")
    cards.commit()
    changes = ObjectChange.objects.count()

    status, out, _ = run_sync(cards.path, "--dry-run")

    assert status == 0
    assert "would be updated: /abc_corp/claim/fraud_scoring (cards/fraud_scoring.md): owner" in out
    assert "would be marked no longer in Git: /abc_corp/underwriting/risk_pricing" in out
    assert model("fraud_scoring").owner == "bob@example.com"
    assert model("risk_pricing").in_git
    assert ObjectChange.objects.count() == changes


def test_two_cards_for_one_model_fail_the_second(cards, run_sync):
    cards.write("cards/zz_copy.yaml", PRICING.replace("carol@", "mallory@"))
    cards.commit()

    status, _, err = run_sync(cards.path)

    assert status == 1
    assert ("failed: cards/zz_copy.yaml: /abc_corp/underwriting/risk_pricing is defined in "
            "cards/risk_pricing.yaml already") in err
    assert model("risk_pricing").owner == "carol@example.com"


def test_a_model_managed_by_another_repository_is_not_taken_over(cards, run_sync, tmp_path):
    from tests.helpers import GitRepo

    run_sync(cards.path)
    (tmp_path / "other").mkdir()
    other = GitRepo(tmp_path / "other")
    other.write("pricing.yaml", PRICING.replace("carol@", "mallory@"))
    other.commit()

    status, _, err = run_sync(other.path)

    assert status == 1
    assert (f"failed: pricing.yaml: /abc_corp/underwriting/risk_pricing is managed in Git by "
            f"cards/risk_pricing.yaml in {cards.path}") in err
    assert model("risk_pricing").owner == "carol@example.com"


def test_a_model_made_in_the_portal_is_adopted_by_its_card(cards, run_sync):
    save_catalog_model(namespace="/abc_corp/underwriting", model_name="risk_pricing",
                       owner="carol@example.com", url="https://git.example.com/pricing")

    _, out, _ = run_sync(cards.path)

    assert ("updated: /abc_corp/underwriting/risk_pricing (cards/risk_pricing.yaml): source, "
            "in_git, managed_fields") in out
    assert "2 created, 1 updated" in out
    pricing = model("risk_pricing")
    assert pricing.in_git and pricing.url == "https://git.example.com/pricing"


def test_a_card_contradicting_a_stored_data_source_fails(cards, run_sync):
    DataSource.objects.create(name="claim history datawarehouse", type="postgres")

    status, _, err = run_sync(cards.path)

    assert status == 1
    assert ("cards/fraud_scoring.md: data_sources: claim history datawarehouse: type differ "
            "from the stored data source") in err
    assert not CatalogModel.objects.filter(model_name="fraud_scoring").exists()


def test_a_ref_and_a_subdirectory_choose_what_is_read(cards, run_sync):
    first = cards.git("rev-parse", "HEAD")
    cards.write("other/model.yaml", "namespace: /other\nmodel_name: elsewhere\n")
    cards.write("cards/late.yaml", "namespace: /abc\nmodel_name: late\n")
    cards.commit()

    status, out, _ = run_sync(cards.path, "--ref", first, "--path", "cards")

    assert status == 0
    assert "3 created" in out
    assert not CatalogModel.objects.filter(model_name__in=["late", "elsewhere"]).exists()


def test_hidden_folders_and_markdown_without_front_matter_are_not_cards(cards, run_sync):
    cards.write(".github/workflows/ci.yml", "on: push\njobs: {}\n")
    cards.write("docs/guide.md", "# How we write cards\n")
    cards.commit()

    status, out, _ = run_sync(cards.path)

    assert status == 0 and "3 created" in out


def test_a_subdirectory_sync_leaves_cards_outside_it_alone(cards, run_sync):
    cards.write("elsewhere/model.yaml", "namespace: /other\nmodel_name: elsewhere\n")
    cards.commit()
    run_sync(cards.path)

    _, out, _ = run_sync(cards.path, "--path", "cards")

    assert "0 no longer in Git" in out
    assert model("elsewhere").in_git


def test_a_url_is_fetched_and_recorded_as_given(cards, run_sync):
    status, out, _ = run_sync(cards.url, "--ref", "main")

    assert status == 0, out
    assert "3 created" in out
    assert model("fraud_scoring").git_repository == cards.url


@pytest.mark.parametrize(("args", "message"), [
    (["--ref", "no-such-branch"], "no-such-branch is not a branch, tag or commit"),
    (["--ref", "--upload-pack=touch /tmp/x"], "A ref is a branch, tag or commit id"),
    (["--path", "../outside"], "A subdirectory is a path inside the repository"),
])
def test_a_bad_ref_or_path_is_an_error_without_changes(cards, run_sync, args, message):
    status, _, err = run_sync(cards.path, *args)

    assert status == 1
    assert message in err
    assert not CatalogModel.objects.exists()


def test_a_repository_that_is_neither_a_folder_nor_a_url_is_refused(run_sync):
    status, _, err = run_sync("ext::sh -c touch% /tmp/pwned")

    assert status == 1
    assert "Give an https://, ssh://, git:// or file:// URL" in err


def test_a_folder_that_is_not_a_repository_is_an_error(tmp_path, run_sync):
    status, _, err = run_sync(tmp_path)

    assert status == 1
    assert f"{tmp_path} is not a git repository" in err


def test_sync_changes_are_in_the_audit_trail_with_the_commit(cards, run_sync):
    run_sync(cards.path)
    first = cards.git("rev-parse", "HEAD")
    cards.write("cards/risk_pricing.yaml", PRICING.replace("carol@", "dave@"))
    cards.remove("cards/doc_classification.json")
    second = cards.commit()

    run_sync(cards.path)

    created = ObjectChange.objects.get(action="create", object_repr="/abc_corp/claim/fraud_scoring")
    assert created.source == "sync"
    assert created.principal == f"git:{cards.path}@{first}"
    assert created.postchange_data["source"]["commit"] == first
    assert "# Fraud scoring" in created.postchange_data["model_card"]
    updated = ObjectChange.objects.get(action="update",
                                       object_repr="/abc_corp/underwriting/risk_pricing")
    assert updated.principal == f"git:{cards.path}@{second}"
    assert (updated.prechange_data["owner"], updated.postchange_data["owner"]) == (
        "carol@example.com", "dave@example.com")
    removed = ObjectChange.objects.get(action="update",
                                       object_repr="/abc_corp/claim/doc_classification")
    assert removed.principal == f"git:{cards.path}@{second}"
    assert removed.postchange_data["source"]["in_git"] is False


def test_the_sync_service_reports_what_it_did(cards):
    report = sync_catalog(repository=str(cards.path))

    assert report.ok
    assert report.commit == cards.git("rev-parse", "HEAD")
    assert report.counts() == {"created": 3, "updated": 0, "unchanged": 0, "removed": 0,
                               "failed": 0}


def test_a_card_colliding_with_a_concurrent_sync_fails_alone(cards, monkeypatch):
    from django.db import IntegrityError

    from catalog.documents import CatalogModelSerializer

    save = CatalogModelSerializer.save

    def save_racing_on_pricing(serializer, **kwargs):
        if serializer.initial_data["model_name"] == "risk_pricing":
            raise IntegrityError("duplicate key value violates unique constraint")
        return save(serializer, **kwargs)

    monkeypatch.setattr(CatalogModelSerializer, "save", save_racing_on_pricing)

    report = sync_catalog(repository=str(cards.path))

    assert report.failed == [{"path": "cards/risk_pricing.yaml",
                              "reason": "Conflicts with a change made at the same time; "
                                        "sync again."}]
    assert len(report.created) == 2
