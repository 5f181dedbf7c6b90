"""The listing queries of the PostgreSQL flow-state store (see :mod:`.listing`).

The flow table's ``flow_name``, ``parent_id``, ``started_at`` and node-count columns are
written with each save; the indexes on ``(status, started_at)`` and ``(flow_name, status,
started_at)`` serve every filter, newest first.
"""

from __future__ import annotations

from typing import Any

from .listing import FlowListing

__all__ = ["count_rows", "page_rows"]

_COLUMNS = (
    "flow_id, flow_name, status, parent_id, extract(epoch FROM started_at),"
    " extract(epoch FROM finished_at), nodes, active_nodes, failed_nodes"
)


def _where(sql: Any, status: str | None, flow_name: str | None) -> tuple[Any, list[Any]]:
    clauses, params = [], []
    if status == "running":
        clauses.append(sql.SQL("status IN ('running', 'retry_wait')"))
    elif status is not None:
        clauses.append(sql.SQL("status = %s"))
        params.append(status)
    if flow_name is not None:
        clauses.append(sql.SQL("flow_name = %s"))
        params.append(flow_name)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def page_rows(
    conn: Any,
    sql: Any,
    *,
    table: Any,
    status: str | None,
    flow_name: str | None,
    offset: int,
    limit: int,
) -> tuple[FlowListing, ...]:
    """The rows of one page, newest first."""
    where, params = _where(sql, status, flow_name)
    query = sql.SQL(
        "SELECT " + _COLUMNS + " FROM {table}{where}"
        " ORDER BY started_at DESC, flow_id DESC LIMIT %s OFFSET %s"
    ).format(table=table, where=where)
    rows = conn.execute(query, [*params, limit, offset]).fetchall()
    return tuple(_row(row) for row in rows)


def count_rows(conn: Any, sql: Any, table: Any, status: str | None, flow_name: str | None) -> int:
    """How many rows match the filter."""
    where, params = _where(sql, status, flow_name)
    query = sql.SQL("SELECT count(*) FROM {table}{where}").format(table=table, where=where)
    return int(conn.execute(query, params).fetchone()[0])


def _row(row: Any) -> FlowListing:
    flow_id, name, status, parent, started, finished, nodes, active, failed = row
    return FlowListing(
        flow_id,
        name or "",
        status if status in ("succeeded", "failed") else "running",
        parent,
        float(started),
        None if finished is None else float(finished),
        nodes,
        active,
        failed,
    )
