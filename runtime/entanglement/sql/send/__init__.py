"""Local changes out: the SQL session, change capture, serials, remote requests and
transitions.  Imports only :mod:`entanglement.sql.schema`.
"""
