"""CSV downloads of the pages' tables: the record list (with the page's filters) at
``/records/csv`` and a contributor's earnings at ``/contributor/{address}/csv``.

Spreadsheet-ready and exact: wei as integers (never ETH with rounding), times as ISO 8601 in
UTC, ``text/csv`` with a file name. Each file holds at most ``MAX_ROWS`` rows; a record list
cut there says where to go on in the ``X-Next-Cursor`` header (pass it back as ``cursor``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.render import iso
from offchain.explorer.service import Explorer

MAX_ROWS = 10_000
RECORD_COLUMNS = ("requestId", "modelId", "worker", "requester", "proofKind", "epoch",
                  "timestamp", "block", "txHash", "feeWei", "status")
EARNING_COLUMNS = ("record", "requestId", "modelId", "epoch", "timestamp", "bps",
                   "amountWei")


def csv_response(name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                 headers: dict[str, str] | None = None) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'}
                    | (headers or {}))


def router(explorer: Explorer) -> APIRouter:
    files = APIRouter(include_in_schema=False)

    @files.get("/records/csv")
    def records_csv(model: str | None = None, worker: str | None = None,
                    contributor: str | None = None, requester: str | None = None,
                    proof: str | None = None, epoch: str | None = None,
                    status: str | None = None, cursor: str | None = None) -> Response:
        filters = P.record_filters(model, worker, contributor, requester, proof, epoch,
                                   status, None, cursor)
        rows: list[list[Any]] = []
        following = filters["cursor"]
        with explorer.engine.connect() as conn:
            while len(rows) < MAX_ROWS:
                page = Q.list_records(conn, **(filters | {
                    "limit": min(Q.MAX_LIMIT * 10, MAX_ROWS - len(rows)),
                    "cursor": following}))
                rows += [[r["requestId"], r["modelId"], r["worker"], r["requester"] or "",
                          r["proofKind"], r["epoch"], iso(r["timestamp"]), r["block"],
                          r["txHash"], r["fee"], r["status"]] for r in page.items]
                if page.next_cursor is None:
                    following = None
                    break
                following = P.cursor(page.next_cursor)
        more = {} if following is None else {"X-Next-Cursor": f"{following[0]}-{following[1]}"}
        return csv_response("attestia-records.csv", RECORD_COLUMNS, rows, more)

    @files.get("/contributor/{account}/csv")
    def contributor_csv(account: str) -> Response:
        address = P.address(account, "contributor")
        data = explorer.read(Q.get_contributor, address, limit=MAX_ROWS)
        rows = [[a["record"], a["requestId"] if not a["requestId"].startswith("batch:")
                 else "", a["modelId"], a["epoch"], iso(a["timestamp"]), a["bps"],
                 a["amount"]] for a in data["attributions"]]
        more = {"X-Truncated": "true"} if data["records"] > len(rows) else {}
        return csv_response(f"attestia-earnings-{address}.csv", EARNING_COLUMNS, rows, more)

    return files
