"""Sealing of what signing keeps about residents: their certificates (which name them), the
summaries departments show them, and PDFs while a request is open (kit.sealing, AES-256-GCM
under keys derived from the master secret; the associated data names the row and the column,
so a value copied elsewhere does not open)."""

from __future__ import annotations

import base64

from kit.sealing import FieldCipher, derive_key, open_bytes, seal_bytes


class SigningSeal:
    def __init__(self, master_key: bytes) -> None:
        self._text = FieldCipher({"k1": derive_key(master_key, "signing-fields/v1")}, "k1")
        self._bytes = derive_key(master_key, "signing-documents/v1")

    def seal_text(self, value: str, context: str) -> str:
        return self._text.encrypt(value, context=context)

    def open_text(self, sealed: str, context: str) -> str:
        return self._text.decrypt(sealed, context=context)

    def seal_der(self, value: bytes, context: str) -> str:
        return self.seal_text(base64.b64encode(value).decode(), context)

    def open_der(self, sealed: str, context: str) -> bytes:
        return base64.b64decode(self.open_text(sealed, context))

    def seal_bytes(self, value: bytes, context: str) -> bytes:
        return seal_bytes(self._bytes, value, context.encode())

    def open_bytes(self, sealed: bytes, context: str) -> bytes:
        return open_bytes(self._bytes, sealed, context.encode())
