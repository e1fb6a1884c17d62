"""ODSQL, the Opendatasoft query language, compiled to parameterized DuckDB SQL.

Three pieces, as sqlglot has them: ``tokens`` (text -> tokens), ``parser`` (tokens -> the frozen AST of
``nodes``, a Pratt parser with precedence tables) and ``generator`` (AST -> SQL, type-checked against
the dataset's schema). ``query.compile_query`` drives them for one Explore API request. Every value the
user writes becomes a ``$n`` parameter; every name is checked against the schema and double-quoted.
Anything wrong is an ``ODSQLError`` (400) naming the clause, the position and the token; docs/odsql.md
lists the grammar, the functions and the error codes.

Storage convention the compiler assumes for the warehouse's Parquet files (the datasets package
writes them this way):

    text          VARCHAR
    int           BIGINT
    double        DOUBLE
    date          DATE
    datetime      TIMESTAMP WITH TIME ZONE (instants, in UTC); year(), month(), date_format()...
                  read the wall clock in the request's ``timezone`` (default UTC)
    geo_point_2d  STRUCT(lon DOUBLE, lat DOUBLE)
    geo_shape     VARCHAR holding GeoJSON text

Typical use, in one place of the Explore API:

    compiled = compile_query(QueryRequest(where="population > 1000", limit=20), schema,
                             source_sql="read_parquet(['/warehouse/x/v3/part-0.parquet'])")
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    total = con.execute(compiled.count_sql, compiled.count_params).fetchone()[0]
"""

from datawharf.odsql.errors import Code
from datawharf.odsql.generator import FIELD_TYPES, FieldType, quote_ident
from datawharf.odsql.nodes import to_odsql
from datawharf.odsql.parser import parse_expression, parse_group_by, parse_order_by, parse_select
from datawharf.odsql.query import CompiledQuery, Mode, OutputColumn, QueryRequest, compile_query
from datawharf.odsql.tokens import Token, TokenType, tokenize

__all__ = [
    "FIELD_TYPES",
    "Code",
    "CompiledQuery",
    "FieldType",
    "Mode",
    "OutputColumn",
    "QueryRequest",
    "Token",
    "TokenType",
    "compile_query",
    "parse_expression",
    "parse_group_by",
    "parse_order_by",
    "parse_select",
    "quote_ident",
    "to_odsql",
    "tokenize",
]
