"""Navigation attributes of references (``navigate``/``back``) in real databases.

The package is the golden output of ``tests/cases/good_sql_navigation``: a reference to
its own type (``Person.manager``), two references to one type, str keys, a type with a
composite key that refers, a joined child with a navigation of its own, and a
many-to-many through the association type ``Membership`` (read-only lists both ways).  Objects are
linked through the navigation attributes only; the keys must follow, travel over TLS
(only keys are on the wire) and navigate again on the receiving node, on SQLite files and
on PostgreSQL.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from gen_helpers import CASES
from test_gen_sql_constraints import _Node, _wait_until, run

from entanglement.sql import SqlSyncRegistry

CASE = CASES / "good_sql_navigation"


@pytest.fixture(scope="module")
def org() -> Iterator[ModuleType]:
    sys.path.insert(0, str(CASE / "expected"))
    try:
        yield importlib.import_module("org_sync")
    finally:
        sys.path.remove(str(CASE / "expected"))


def _build(org: ModuleType, session: Any) -> dict[str, Any]:
    boss = org.Person(name="boss")
    dev = org.Person(name="dev", manager_ref=boss)
    acme = org.Agency(name="acme")
    temp = org.Contractor(name="temp", manager_ref=boss)
    temp.agency_ref = acme
    project = org.Project(code="P-1", lead_ref=dev, sponsor_ref=boss)
    first = org.Milestone(project_ref=project, number=1)
    session.add_all([boss, dev, temp, project, first])
    session.flush()
    red, blue = org.Team(name="red"), org.Team(name="blue")
    session.add_all([red, blue])
    session.flush()
    session.add_all(
        [
            org.Membership(person=dev.id, team="red"),
            org.Membership(person=dev.id, team="blue", role="lead"),
            org.Membership(person=boss.id, team="blue"),
        ]
    )
    session.commit()
    return {"boss": boss.id, "dev": dev.id, "temp": temp.id}


def _check(org: ModuleType, session: Any, ids: dict[str, Any]) -> None:
    boss = session.get(org.Person, ids["boss"])
    dev = session.get(org.Person, ids["dev"])
    temp = session.get(org.Person, ids["temp"])
    assert (dev.manager, dev.manager_ref) == (boss.id, boss)  # the key followed
    assert boss.manager_ref is None
    assert sorted(p.name for p in boss.reports) == ["dev", "temp"]
    assert type(temp) is org.Contractor
    project = session.get(org.Project, "P-1")
    assert (project.lead, project.sponsor) == (dev.id, boss.id)
    assert (project.lead_ref, project.sponsor_ref) == (dev, boss)
    assert dev.projects_led == [project]
    acme = session.get(org.Agency, "acme")
    assert (temp.agency, temp.agency_ref) == ("acme", acme)
    assert [c.name for c in acme.contractors] == ["temp"]
    # many-to-many through the association rows, both ways
    assert sorted(t.name for t in dev.teams) == ["blue", "red"]
    blue = session.get(org.Team, "blue")
    assert sorted(p.name for p in blue.members) == ["boss", "dev"]
    assert temp.teams == []
    milestone = session.get(org.Milestone, ("P-1", 1))
    assert milestone.project_ref is project
    assert project.milestones == [milestone]


def test_navigation_sets_keys_and_loads_objects(
    org: ModuleType, db_factory: Callable[[str], str]
) -> None:
    engine = sa.create_engine(db_factory("org"))
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        org.Base.metadata.create_all(engine)
        registry = org.new_registry(bind=engine)
        with registry.sessionmaker() as session:
            ids = _build(org, session)
        with sa.orm.Session(engine) as session:
            _check(org, session, ids)
    finally:
        engine.dispose()


def _rows(engine: sa.Engine, org: ModuleType) -> dict[str, int]:
    # the row count of every table of the package
    with engine.connect() as conn:
        return {
            table.name: int(
                conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
            for table in org.Person.metadata.sorted_tables
        }


def test_navigation_round_trip_over_tls(
    org: ModuleType,
    pki: dict[str, Any],
    db_factory: Callable[[str], str],
) -> None:
    async def scenario() -> None:
        a = await _Node(org, db_factory("a"), pki["a"]).start()
        b = await _Node(org, db_factory("b"), pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                ids = _build(org, session)
            a.know(b, connect=False)
            b.know(a, connect=True)
            # the catch-up answers one type after another and the receiving node
            # commits them as they come: wait for every row, not one type's
            await _wait_until(lambda: _rows(b.engine, org) == _rows(a.engine, org))
            with sa.orm.Session(b.engine) as session:
                _check(org, session, ids)
            # a move made through the navigation alone reaches the other node
            with a.registry.sessionmaker(manager=a.manager) as session:
                dev = session.get(org.Person, ids["dev"])
                dev.manager_ref = session.get(org.Person, ids["temp"])
                session.commit()
            await _wait_until(
                lambda: b.get(org.Person, ids["dev"]).manager == ids["temp"]
            )
        finally:
            await b.stop()
            await a.stop()

    run(scenario(), timeout=15.0)


def test_the_wire_form_holds_keys_not_navigations(
    org: ModuleType, db_factory: Callable[[str], str]
) -> None:
    engine = sa.create_engine(db_factory("org"))
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        org.Base.metadata.create_all(engine)
        registry = org.new_registry(bind=engine)
        with registry.sessionmaker() as session:
            ids = _build(org, session)
        with sa.orm.Session(engine) as session:
            temp = session.get(org.Person, ids["temp"])
            assert temp is not None
            wire = temp.to_sync()
            # the keys, in their wire forms; no navigation, back-reference or list
            assert (wire["manager"], wire["agency"]) == (str(ids["boss"]), "acme")
            names = {"manager_ref", "agency_ref", "reports", "teams", "projects_led"}
            assert not names & wire.keys()
            row = session.get(org.Milestone, ("P-1", 1))
            assert row is not None
            milestone = row.to_sync()
            assert (milestone["project"], milestone["number"]) == ("P-1", 1)
            assert "project_ref" not in milestone
    finally:
        engine.dispose()
