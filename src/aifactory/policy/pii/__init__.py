"""PII: find personal data in text (a built-in one-pass detector, or a plugin's) and redact it
(`mask`, `remove`, `hash`, `pseudonymize` with `restore`).

    from aifactory.policy.pii import default_detector, redact_text

    found = default_detector().analyze("mail jane@example.com", language="en")
    redacted = redact_text(default_detector(), text, {"EMAIL_ADDRESS": "mask"}).text
"""

from aifactory.policy.pii.detector import BuiltinDetector, default_detector
from aifactory.policy.pii.entities import Detector, Entity, check_entity_types, resolve_overlaps
from aifactory.policy.pii.pseudonyms import PiiKeyring, Pseudonymizer
from aifactory.policy.pii.redaction import Redaction, check_modes, redact, redact_text
from aifactory.policy.pii.redactor import Redactor
from aifactory.policy.pii.streaming import StreamRedactor, StreamRestorer

__all__ = [
    "BuiltinDetector",
    "Detector",
    "Entity",
    "PiiKeyring",
    "Pseudonymizer",
    "Redaction",
    "Redactor",
    "StreamRedactor",
    "StreamRestorer",
    "check_entity_types",
    "check_modes",
    "default_detector",
    "redact",
    "redact_text",
    "resolve_overlaps",
]
