"""The receipt as a one-page PDF: what the resident signs when a form asks for a signature.

It carries the submission's canonical content, never its answers: the reference, the form and
version, the department, the time, and the SHA-256 of the answers and of each attached file
(the same fingerprints as the JWS receipt), so a signature over this PDF binds the resident to
exactly those bytes while the provider, which handles the PDF, learns none of the answers.
Plain PDF 1.7 with the standard Helvetica font (the text is ASCII; the bilingual labels are on
the hub's pages).
"""

from __future__ import annotations

from typing import Any

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN, LEADING = 56, 16
MAX_CHARS = 88


def _escape(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode()
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrapped(label: str, value: str) -> list[str]:
    """``label: value`` on one line when it fits, else the value on lines of its own (a
    fingerprint is never split across the label's line)."""
    line = f"{label}: {value}"
    if len(line) <= MAX_CHARS:
        return [line]
    return [
        f"{label}:",
        *("    " + value[i : i + MAX_CHARS - 4] for i in range(0, len(value), MAX_CHARS - 4)),
    ]


def receipt_lines(view: dict[str, Any]) -> list[str]:
    form = view["form"]
    lines = [
        "e-Gateway forms - receipt of an application",
        "",
        *_wrapped("Reference", str(view.get("reference"))),
        *_wrapped("Form", f"{form['title']['en']} (version {form['version']})"),
        *_wrapped("Department", str(view.get("department"))),
        *_wrapped("Submitted (UTC)", str(view.get("submitted_at") or "")[:19].replace("T", " ")),
        *_wrapped("Answers fingerprint (SHA-256)", str(view.get("answers_sha256"))),
    ]
    for attachment in view.get("attachments", []):
        lines += _wrapped(f"File {attachment['filename']} (SHA-256)", str(attachment["sha256"]))
    lines += ["", "Signed by the applicant with the e-Gateway app (digital signature, PAdES)."]
    return lines


def receipt_pdf(view: dict[str, Any]) -> bytes:
    commands = [f"BT /F1 11 Tf {MARGIN} {PAGE_HEIGHT - MARGIN} Td {LEADING} TL"]
    commands += [f"({_escape(line)}) Tj T*" for line in receipt_lines(view)]
    commands.append("ET")
    stream = "\n".join(commands).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>" % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
