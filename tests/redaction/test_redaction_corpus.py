"""Recall and false positives of the built-in detectors over the corpus (tests/redaction/corpus.json)."""

from __future__ import annotations

from collections import Counter

from redaction_helpers import LOOKALIKES, SECRETS, TEMPLATES, leaked

from otel_agentops.redaction import Redactor

# Categories whose mask name is not the category itself: credentials found through their key.
_MASK_NAMES = {
    "password": {"key"},
    "aws_secret_access_key": {"key"},
    "url_secret_param": {"key"},
    "basic_auth": {"basic_auth", "key"},
}


def test_corpus_is_big_and_covers_every_category() -> None:
    categories = Counter(secret.category for secret in SECRETS)
    assert len(SECRETS) >= 100 and len(LOOKALIKES) >= 100
    assert set(categories) >= {
        "openai_api_key",
        "anthropic_api_key",
        "google_api_key",
        "aws_access_key_id",
        "github_token",
        "slack_token",
        "stripe_key",
        "bearer_token",
        "aws_secret_access_key",
        "password",
        "jwt",
        "private_key",
        "email",
        "payment_card",
        "us_ssn",
        "phone",
        "iban",
        "url_secret_param",
    }


def test_recall_and_false_positive_rate() -> None:
    redactor = Redactor()
    misses = [
        (secret.category, template.format(secret.value))
        for secret in SECRETS
        for template in TEMPLATES
        if leaked(secret.secret, redactor.redact_text(template.format(secret.value)))
    ]
    false_positives = [
        (category, template.format(value))
        for category, value in LOOKALIKES
        for template in TEMPLATES
        if redactor.redact_text(template.format(value)) != template.format(value)
    ]
    secret_cases = len(SECRETS) * len(TEMPLATES)
    lookalike_cases = len(LOOKALIKES) * len(TEMPLATES)
    recall = 1 - len(misses) / secret_cases
    fp_rate = len(false_positives) / lookalike_cases
    print(
        f"\nredaction corpus: recall {recall:.2%} ({secret_cases - len(misses)}/{secret_cases}), "
        f"false positives {fp_rate:.2%} ({len(false_positives)}/{lookalike_cases})"
    )
    assert misses == []
    assert fp_rate <= 0.01, false_positives


def test_each_secret_is_masked_under_its_own_name() -> None:
    redactor = Redactor()
    for secret in SECRETS:
        out = redactor.redact_text(secret.value)
        names = _MASK_NAMES.get(secret.category, {secret.category})
        assert any(f"[REDACTED:{name}]" in out for name in names), (secret.category, out)
