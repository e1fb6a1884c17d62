"""The Explore side's services: who may read a published dataset, its records as Explore API v2.1 JSON,
and the catalog of datasets queried with ODSQL.

The faces (``api/explore.py``) call these; they call ``odsql.compile_query`` for the SQL and the
``store.query_engine`` to run it. Exports (files of any size, streamed) live in ``datawharf.exports``.
"""
