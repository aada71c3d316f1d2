"""Redaction of recorded prompt and completion content: secrets and PII masked, blobs shrunk, size bounded.

``get_redactor()`` is the process-wide instance configured by ``OTEL_AGENTOPS_REDACT_*`` (see
``settings``); ``Redactor`` can also be built directly, e.g. in tests.
"""

from otel_agentops.redaction.redactor import Redactor
from otel_agentops.redaction.settings import get_redactor, redactor_from_env, reset_redactor

__all__ = ["Redactor", "get_redactor", "redactor_from_env", "reset_redactor"]
