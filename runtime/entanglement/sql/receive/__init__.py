"""Rows in: the SQL registry, row construction, the receive batch, held serials and
transient database faults.  Imports :mod:`entanglement.sql.schema` and
:mod:`entanglement.sql.send` (a stored row belongs to the node's session).
"""
