"""Form fields and widgets the admin shares."""

import json

from django import forms
from django.core.exceptions import ValidationError

from mlportal.jsonvalues import JSONFormField


class JSONEditor(forms.Textarea):
    """A JSON document in a monospace box sized for it, checked as it is typed (the error
    names its line and column; the server checks again on save)."""

    template_name = "mlportal/widgets/json_editor.html"

    class Media:
        css = {"all": ["mlportal/json-editor.css"]}
        js = ["mlportal/json-editor.js"]

    def __init__(self, attrs=None):
        super().__init__({"class": "json-editor", "spellcheck": "false", "autocomplete": "off",
                          "autocapitalize": "off", "wrap": "off", **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        lines = (value or "").count("\n") + 1
        context["widget"]["attrs"]["rows"] = min(max(lines + 1, 6), 30)
        return context


def json_error_message(exc, text):
    """`Invalid JSON at line 3, column 14: Expecting ',' delimiter.` with the line quoted."""
    line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
    return (f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            + (f" The line reads: {line.strip()[:120]}" if line.strip() else ""))


class JSONEditorField(JSONFormField):
    """forms.JSONField, shown pretty-printed (two-space indent) in a JSONEditor, and whose
    parse errors say where the mistake is (line and column) instead of "Enter a valid
    JSON."; text nested too deep is refused before it is parsed (mlportal.jsonvalues)."""

    widget = JSONEditor

    def to_python(self, value):
        self.refuse_too_deep(value)  # before json.loads, which would exhaust the stack
        if not self.disabled and isinstance(value, str) and value.strip():
            try:
                json.loads(value, cls=self.decoder)
            except json.JSONDecodeError as exc:
                raise ValidationError(json_error_message(exc, value), code="invalid",
                                      params={"value": value}) from exc
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, cls=self.encoder, indent=2)
