"""JSON (schemas, connections) is edited in the admin in a monospace editor: pretty-printed,
and a broken document is refused with its line and column."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog.models import CatalogModel
from catalog.services import save_catalog_model
from mlportal.forms import JSONEditorField

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(example):
    return save_catalog_model(**example("catalog_model") | {"inference": {"input": {
        "description": "A claim",
        "schema": {"type": "object", "required": ["claim_id"]}}}})


def change_form(model, **changes):
    data = {
        "namespace": model.namespace.pk, "model_name": model.model_name,
        "description": model.description, "owner": model.owner, "url": model.url,
        "inference_input_description": model.inference_input_description,
        "inference_input_schema": '{"type": "object"}',
        "inference_output_description": "", "inference_output_schema": "{}",
        "model_data_sources-TOTAL_FORMS": 0, "model_data_sources-INITIAL_FORMS": 0,
    }
    return data | changes


def test_a_saved_schema_comes_back_pretty_printed_in_a_monospace_editor(admin_client, model):
    page = admin_client.get(reverse("admin:catalog_catalogmodel_change", args=[model.pk]))
    html = page.content.decode()

    assert 'class="json-editor"' in html
    assert '{\n  &quot;type&quot;: &quot;object&quot;,\n  &quot;required&quot;: [' in html
    assert "mlportal/json-editor.js" in html


def test_broken_json_is_refused_with_its_line_and_column():
    field = JSONEditorField()
    with pytest.raises(ValidationError) as refused:
        field.clean('{\n  "type": "object",\n  "required": ["a" "b"]\n}')
    assert refused.value.messages == [
        "Invalid JSON at line 3, column 20: Expecting ',' delimiter. The line reads: "
        '"required": ["a" "b"]']


def test_the_admin_says_where_a_schema_is_broken_and_saves_nothing(admin_client, model):
    url = reverse("admin:catalog_catalogmodel_change", args=[model.pk])
    inline = {key: value for key, value in change_form(model).items()}
    prefix = admin_client.get(url).context["inline_admin_formsets"][0].formset.prefix
    inline |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}

    response = admin_client.post(url, inline | {
        "inference_input_schema": '{"type": "object",}'})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["inference_input_schema"]
    assert errors[0].startswith("Invalid JSON at line 1, column 19:")
    assert CatalogModel.objects.get(pk=model.pk).inference_input_schema == {
        "type": "object", "required": ["claim_id"]}
