"""Binary COPY helpers: stream fixed-width rows in and out of Postgres as numpy arrays, so 100k
detections move in one round trip each way and are parsed without a Python loop per row."""
from __future__ import annotations

import numpy as np
import psycopg

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_SQL_TYPES = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float4": ">f4", "float8": ">f8"}


def copy_out(conn: psycopg.Connection, select: str, params, columns: list[tuple[str, str]],
             vector_dim: int | None = None) -> dict[str, np.ndarray]:
    """Run `COPY (select) TO STDOUT (FORMAT BINARY)` and decode it into one array per column.

    columns: (name, sql type) for fixed-width, NOT NULL columns, in select order; with vector_dim
    the select's last column is a pgvector `vector` of that dimension, returned as 'embedding'.
    """
    fields = []
    for k, (name, sql_type) in enumerate(columns):
        fields += [(f"_len{k}", ">i4"), (name, _SQL_TYPES[sql_type])]
    if vector_dim is not None:  # pgvector binary: int16 dim, int16 unused, float4[dim]
        fields += [("_lenv", ">i4"), ("_dim", ">i2"), ("_unused", ">i2"), ("embedding", ">f4", (vector_dim,))]
    row = np.dtype([("_nfields", ">i2")] + fields)
    with psycopg.ClientCursor(conn) as cur:  # COPY takes no bind parameters: inline them client-side
        query = f"COPY ({cur.mogrify(select, params)}) TO STDOUT (FORMAT BINARY)"
        with cur.copy(query) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a binary COPY stream")
    (ext,) = np.frombuffer(data, ">i4", 1, len(_SIGNATURE) + 4)
    body = memoryview(data)[len(_SIGNATURE) + 8 + int(ext): -2]  # header, extension ... trailer
    if len(body) % row.itemsize:
        raise ValueError("binary COPY rows are not fixed width (a NULL or another vector size?)")
    rows = np.frombuffer(body, row)
    out = {name: rows[name].astype(_SQL_TYPES[t][1:]) for name, t in columns}
    if vector_dim is not None:
        out["embedding"] = rows["embedding"].astype(np.float32)
    return out


def copy_in(cur: psycopg.Cursor, table: str, columns: list[str], types: list[str], rows) -> None:
    """Binary COPY of `rows` (an iterable of tuples) into `table`."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for r in rows:
            copy.write_row(r)
