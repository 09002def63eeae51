"""The kill -9 fault script, short: two kills under load, on each backend; nothing lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import new_database_url

pytestmark = pytest.mark.faults

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_kills_under_load_lose_nothing_acknowledged(backend, request, tmp_path):
    argv = [sys.executable, str(SCRIPT), "--kills", "2", "--seconds-between", "1.5"]
    if backend == "postgresql":
        argv += ["--database-url", new_database_url(backend, request, tmp_path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-3000:]
    assert "lost: 0" in report
    acknowledged = int(report.split("acknowledged submissions: ")[1].split(",")[0])
    assert acknowledged > 0, report  # the load really ran between the kills
    assert "ledger verification: OK" in report
