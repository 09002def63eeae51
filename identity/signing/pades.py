"""PAdES signatures (ETSI EN 319 142-1, subfilter ``ETSI.CAdES.detached``) with pyHanko, in
two steps because the signature value is made on the resident's device in between
(pyHanko's interrupted signing):

1. :func:`prepare` appends an incremental update with an empty signature field and a
   reserved ``/Contents`` placeholder, and returns the prepared file with the digest of its
   ``/ByteRange`` (what the CMS ``message-digest`` attribute must carry);
2. :func:`finish` writes the CMS SignedData (made by :mod:`identity.signing.cades`) into the
   placeholder. Nothing else in the file changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import Any, TypeVar

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko_certvalidator.registry import SimpleCertificateStore

from identity.signing.cades import as_asn1

# Hex characters reserved for the CMS (twice its DER size): the signer's certificate, the CA
# chain and a time-stamp token with the TSA's certificate stay well under 8 KiB of DER.
RESERVED_HEX_BYTES = 16384
_T = TypeVar("_T")
ECDSA_P256_MAX_SIGNATURE = 72


class PdfRefused(ValueError):
    """The PDF cannot be prepared for signing (malformed, encrypted, or the field exists)."""


@dataclass(frozen=True)
class PreparedPdf:
    prepared: bytes
    document_digest: bytes  # SHA-256 of the byte range
    reserved_start: int
    reserved_end: int


def _in_own_loop(coroutine: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run one of pyHanko's coroutines in an event loop of its own, on a thread of its own:
    the calling thread may be running a loop already, and asyncio.run refuses to nest."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pades") as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result()


def prepare(
    pdf: bytes, signer: x509.Certificate, chain: tuple[x509.Certificate, ...], field_name: str
) -> PreparedPdf:
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    # Only lays out the signature dictionary: the real value comes from the device later.
    placeholder = signers.ExternalSigner(
        signing_cert=as_asn1(signer),
        cert_registry=SimpleCertificateStore.from_certs([as_asn1(c) for c in chain]),  # type: ignore[no-untyped-call]
        signature_value=ECDSA_P256_MAX_SIGNATURE,
    )
    pdf_signer = signers.PdfSigner(meta, signer=placeholder)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        if writer.security_handler is not None:
            raise PdfRefused("encrypted PDFs cannot be signed here")
        digest, _, output = _in_own_loop(
            lambda: pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=RESERVED_HEX_BYTES)
        )
    except (PdfError, SigningError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise PdfRefused(f"the PDF cannot be prepared for signing ({type(exc).__name__})") from None
    assert isinstance(output, BytesIO)  # no output stream given: pyHanko writes to a BytesIO
    return PreparedPdf(
        output.getvalue(), digest.document_digest, digest.reserved_region_start, digest.reserved_region_end
    )


def finish(prepared: PreparedPdf, signature_container: bytes) -> bytes:
    """The signed PDF: the prepared one with the DER CMS in its placeholder."""
    output = BytesIO(prepared.prepared)
    PreparedByteRangeDigest(
        prepared.document_digest, prepared.reserved_start, prepared.reserved_end
    ).fill_with_cms(output, signature_container)
    return output.getvalue()
