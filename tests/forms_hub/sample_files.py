"""Real files for attachment tests, built in memory: a valid PDF (and variants with active
content), PNG and JPEG made with Pillow, and the hostile files of the audit."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def pdf(*, catalog_extra: bytes = b"", extra_objects: tuple[bytes, ...] = ()) -> bytes:
    """A one-page PDF 1.7 with a correct cross-reference table. ``catalog_extra`` goes into
    the document catalog; ``extra_objects`` become objects 4, 5, ..."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        *extra_objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF = pdf()
PDF_WITH_JAVASCRIPT = pdf(
    catalog_extra=b"/OpenAction 4 0 R",
    extra_objects=(b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>",),
)
# The name spelled with a #xx escape, as malware does to slip past byte scanners.
PDF_WITH_HIDDEN_JAVASCRIPT = pdf(
    catalog_extra=b"/OpenAction 4 0 R", extra_objects=(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",)
)
PDF_WITH_EMBEDDED_FILE = pdf(
    catalog_extra=b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>",
    extra_objects=(
        b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
        b"<< /Length 2 >>\nstream\nMZ\nendstream",
    ),
)
TRUNCATED_PDF = PDF[: len(PDF) // 2]


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


PNG = _image("PNG")
JPEG = _image("JPEG")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``width`` x ``height`` RGB pixels: a
    decompression bomb for whoever believes it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# A valid PNG that is also a web page: the markup sits in a text chunk the image ignores.
PNG_HTML_POLYGLOT = (
    PNG[:-12]
    + png_chunk(b"tEXt", b"Comment\x00<html><script>alert(document.domain)</script></html>")
    + PNG[-12:]
)
