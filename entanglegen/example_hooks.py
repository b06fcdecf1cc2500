"""Deprecated alias of :mod:`entanglegen_examples.hooks` (the example schemas' hooks).

The example application moved out of the generator package so that generated packages
never import the generator.  This alias keeps the old dotted paths
(``entanglegen.example_hooks.…``) of schemas and tests written before the move working; it
re-exports the same objects (the same ``ESCALATIONS``/``NUDGES`` queues), so either path
observes the same calls.  New code names ``entanglegen_examples.hooks``.
"""

from entanglegen_examples.hooks import (
    ESCALATIONS,
    NUDGES,
    decode_rgb,
    destination_side,
    encode_rgb,
    escalate_help_request,
    exercise_should_listen,
    exercise_should_send,
    nudge_participant,
)

__all__ = [
    "ESCALATIONS",
    "NUDGES",
    "decode_rgb",
    "destination_side",
    "encode_rgb",
    "escalate_help_request",
    "exercise_should_listen",
    "exercise_should_send",
    "nudge_participant",
]
