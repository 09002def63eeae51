"""Files a person downloads to keep (CSV for spreadsheets, JSON), written one way.

Defended against: CSV injection (OWASP) — a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is run as a formula by spreadsheet programs, so such cells are
prefixed with an apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> str:
    text = (
        "" if value is None else " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    )
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def download(body: str, media_type: str, filename: str) -> Response:
    """A private download: never cached, saved under ``filename``."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(body, media_type=media_type, headers=headers)
