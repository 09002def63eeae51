import csv
import io

from kit.exports import csv_text, download, spreadsheet_cell


def test_cells_a_spreadsheet_would_run_as_formulas_are_made_text():
    for dangerous in ('=HYPERLINK("http://x")', "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"):
        assert spreadsheet_cell(dangerous) == "'" + dangerous
    assert spreadsheet_cell("Transport Department") == "Transport Department"
    assert spreadsheet_cell(["name", "email"]) == "name email"
    assert spreadsheet_cell(None) == ""


def test_csv_has_a_header_and_one_safe_row_per_record():
    text = csv_text(
        ("department", "fields"), [{"department": "=cmd", "fields": ["name"]}, {"department": "TD"}]
    )
    assert list(csv.reader(io.StringIO(text))) == [["department", "fields"], ["'=cmd", "name"], ["TD", ""]]


def test_a_download_is_never_cached():
    response = download("a,b\n", "text/csv; charset=utf-8", "mine.csv")
    assert response.headers["content-disposition"] == 'attachment; filename="mine.csv"'
    assert response.headers["cache-control"] == "no-store"
