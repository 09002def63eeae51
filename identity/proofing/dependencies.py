"""Access rules of the proofing pages, declared once: the registration officer (a signed-in
staff account holding the ``registrar`` role; anyone else signed in gets a 403 page, and
someone signed out is sent to sign in), and the evidence store built in identity.app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identity.accounts.dependencies import CurrentAccount, SignedInAccount
from identity.proofing.evidence import EvidenceStore
from identity.proofing.service import NotRegistrar, is_registrar


def registrar(current: CurrentAccount) -> SignedInAccount:
    if not is_registrar(current.account):
        raise NotRegistrar(current.account.id)
    return current


async def _evidence_store(request: Request) -> EvidenceStore:  # async: no thread hop
    store: EvidenceStore = request.app.state.evidence_store
    return store


CurrentRegistrar = Annotated[SignedInAccount, Depends(registrar)]
EvidenceStoreDep = Annotated[EvidenceStore, Depends(_evidence_store)]
