"""The codecs of generated packages live in ``entanglement.generated_support`` (the
golden cases show the generator importing them from there); ``entanglement.support``,
their first name, which packages generated before still import, re-exports the very same
objects."""

from __future__ import annotations

import importlib

import entanglement.generated_support as generated_support


def test_the_old_name_is_the_same_module_contents() -> None:
    old = importlib.import_module("entanglement.support")
    assert old.__all__ == generated_support.__all__
    for name in generated_support.__all__:
        assert getattr(old, name) is getattr(generated_support, name), name


def test_every_public_codec_is_listed() -> None:
    public = {
        name
        for name, value in vars(generated_support).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == generated_support.__name__
    }
    assert public == set(generated_support.__all__)
