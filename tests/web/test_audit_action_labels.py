"""The audit log names every action in the reader's language: an action added to AuditAction
without a label in web/views.py would show its English constant name to a Korean or Chinese
officer."""

from django.utils import translation

from archiving.models import AuditAction
from web.views import AUDIT_ACTION_LABELS


def _labels(language: str) -> dict[str, str]:
    with translation.override(language):
        return {value: str(label) for value, label in AUDIT_ACTION_LABELS.items()}


def test_every_audit_action_has_a_label():
    missing = [value for value, _label in AuditAction.choices if value not in AUDIT_ACTION_LABELS]
    assert missing == []


def test_every_audit_action_label_is_translated_into_korean_and_chinese():
    english = _labels("en")
    for language in ("ko", "zh-hant"):
        translated = _labels(language)
        assert [value for value in english if translated[value] == english[value]] == []
