"""Whether a file really is the image or PDF its first bytes claim, decided by decoding it.

Defends against files built to pass a magic-byte check: a PNG that is also an HTML page (a
polyglot, which a browser or a department's viewer may render as markup), a small image
that declares billions of pixels (a decompression bomb for whoever decodes it, our server
or the officer's workstation), a PDF cut short or malformed, and a PDF that carries
JavaScript, launch actions or embedded files.

* Images: Pillow reads the header, the declared size is checked against the pixel limit
  BEFORE any pixel is decoded, then the whole image is verified (chunk checksums) and
  decoded (truncation, corrupt data). The bytes must not contain HTML or SVG markup.
* PDFs: pypdf parses the file strictly (header, cross-reference table or stream, trailer,
  ``%%EOF``), refuses encrypted files (they cannot be inspected), walks every object
  reachable from the trailer and refuses active content by the names the PDF 2.0
  specification (ISO 32000-2) gives it: JavaScript actions (§12.6.4.17), launch, import and
  submit actions, embedded files (§7.11.4), rich media and XFA forms.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

from kit.i18n import N_

DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
# A PDF with more objects than this is refused rather than walked (CPU bound per upload).
_MAX_PDF_OBJECTS = 100_000
_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
# Markup a browser would act on. Tags of at least three letters followed by a delimiter, so
# that a chance match inside compressed pixel data stays rare (for the shortest, <svg and
# <img, about one in a thousand 20 MB images; far less for the others).
_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|svg|img|iframe|object|embed|form|meta)[\s/>]",
    re.IGNORECASE,
)
# Dictionary keys that carry active content or other files.
_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia", "/XFA"})
# Action types (the value of /S in an action dictionary) that run something.
_ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute", "/GoToE", "/Rendition"}
)


class FileRefused(Exception):
    """Why a file was refused, for the resident: ``message`` is a msgid of the catalogue with
    ``{name}`` placeholders filled from ``values`` (forms_hub.i18n.bilingual)."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values


def inspect(data: bytes, media_type: str, *, max_image_pixels: int) -> None:
    """Raises FileRefused unless ``data`` decodes as ``media_type`` and carries nothing active."""
    if media_type == "application/pdf":
        _inspect_pdf(data)
    elif media_type in _PIL_FORMATS:
        _inspect_image(data, _PIL_FORMATS[media_type], max_image_pixels)
    else:
        raise FileRefused(N_("This type of file cannot be checked."))


def _inspect_image(data: bytes, pil_format: str, max_pixels: int) -> None:
    if _MARKUP.search(data):
        raise FileRefused(N_("The image also contains web page markup (HTML or SVG)."))
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise _too_many_pixels(max_pixels)
            image.verify()
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            image.load()
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        # Pillow reports damaged or truncated data through all of these.
        raise FileRefused(N_("The image is damaged or incomplete.")) from None


def _too_many_pixels(max_pixels: int) -> FileRefused:
    megapixels = max_pixels // 1_000_000
    return FileRefused(N_("The image has more than {megapixels} million pixels."), megapixels=megapixels)


def _inspect_pdf(data: bytes) -> None:
    damaged = FileRefused(N_("The PDF is damaged or incomplete."))
    if b"%%EOF" not in data[-1024:]:
        raise damaged  # cut short: pypdf would otherwise rebuild what it can
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise FileRefused(N_("The PDF is encrypted; attach it without a password."))
        if len(reader.pages) == 0:
            raise damaged
        active = _find_active_content(reader.trailer)
    except FileRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError):
        # What pypdf raises on malformed input is not confined to its own exceptions.
        raise damaged from None
    if active:
        raise FileRefused(N_("The PDF contains scripts, actions or embedded files; attach a plain PDF."))


def _find_active_content(root: PdfObject) -> bool:
    """True when any object reachable from ``root`` carries active content. Iterative with a
    seen-set: PDF object graphs have cycles (/Parent links)."""
    pending: list[PdfObject | None] = [root]
    seen: set[tuple[int, int]] = set()
    visited = 0
    while pending:
        node = pending.pop()
        if isinstance(node, IndirectObject):
            reference = (node.idnum, node.generation)
            if reference in seen:
                continue
            seen.add(reference)
            node = node.get_object()
        visited += 1
        if visited > _MAX_PDF_OBJECTS:
            raise ValueError("too many objects")
        if isinstance(node, DictionaryObject):
            if any(key in _ACTIVE_KEYS for key in node):
                return True
            action = node.get("/S")
            if isinstance(action, NameObject) and action in _ACTIVE_ACTIONS:
                return True
            pending.extend(node.values())
        elif isinstance(node, ArrayObject):
            pending.extend(node)
    return False
