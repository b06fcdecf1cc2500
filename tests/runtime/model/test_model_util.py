"""entanglement.util helpers and the package's top-level exports."""

from __future__ import annotations

import logging

import pytest

import entanglement
from entanglement import util


def test_memoproperty_computes_once_per_instance():
    class Thing:
        calls = 0

        @util.memoproperty
        def value(self) -> int:
            Thing.calls += 1
            return Thing.calls

    a, b = Thing(), Thing()
    assert (a.value, a.value, b.value) == (1, 1, 2)
    del a.value
    assert a.value == 3


def test_logs_disabled_silences_entanglement_loggers_and_restores(caplog):
    caplog.set_level(logging.DEBUG)
    protocol = logging.getLogger("entanglement.protocol")
    general = logging.getLogger("entanglement")
    with util.entanglement_logs_disabled():
        general.error("hidden")
        protocol.error("hidden too")
        logging.getLogger("other").error("shown")
    general.error("back")
    protocol.error("back too")
    assert [r.getMessage() for r in caplog.records] == ["shown", "back", "back too"]
    assert not general.disabled
    assert not protocol.disabled


def test_lazy_sql_names():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        util.nothing  # noqa: B018
    types = pytest.importorskip("entanglement.sql.schema.types")
    assert util.GUID is types.GUID
    assert util.SqlDestHash is types.SqlDestHash


def test_lazy_get_or_create():
    base = pytest.importorskip("entanglement.sql.base")
    assert util.get_or_create is base.get_or_create


def test_package_exports():
    for name in entanglement.__all__:
        assert getattr(entanglement, name) is not None
    assert entanglement.DestHash is util.DestHash
    assert entanglement.certhash_from_file is util.certhash_from_file
    assert issubclass(entanglement.SyncUnauthorized, entanglement.SyncError)
    assert issubclass(entanglement.SyncError, entanglement.EntanglementError)
