"""DPoP at the provider's own endpoints (RFC 9449): the token endpoint binds what it issues
to the key of the request's proof, and the PAR endpoint binds the code to come (§10.1).

The proof is checked by the kernel (``kit.dpop``) with the deployment's stateless nonces,
which these endpoints demand (EGATE_DPOP_REQUIRE_NONCE, on by default: a proof made in
advance by malware on the client's device is then worthless, §11.2); the proofs seen are
recorded in the request's own unit of work (``identity.tokens.dpop_replay``).

Binding rules (``binding``), checked once the client is authenticated:
- a code bound to a key (``dpop_jkt`` at the authorization or PAR endpoint) is redeemed only
  with a proof by that key (§10: ``invalid_grant``); so is a refresh token bound to a key
  (issued to a public client with DPoP, §5);
- a client registered with ``dpop_bound_access_tokens`` gets no token without a proof
  (§5.2);
- with a proof, the access token carries ``cnf.jkt`` and is of type ``DPoP`` (§5, §6.1).
"""

from __future__ import annotations

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidGrantError
from starlette.responses import JSONResponse, Response

from identity.clients.models import Client
from identity.oidc.adapter import StarletteOAuth2Request, current
from identity.tokens.dpop_replay import RequestProofs
from kit.dpop import (
    INVALID_DPOP_PROOF,
    DpopProofVerifier,
    InvalidProof,
    deployment_nonces,
    public_url,
)
from kit.settings import Settings

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidDpopProofError(OAuth2Error):  # type: ignore[misc]  # Authlib ships no types
    """RFC 9449 §5: the token request's proof is missing where it is required."""

    error = INVALID_DPOP_PROOF
    status_code = 400


class ProviderDpop:
    def __init__(self, settings: Settings, master_key: bytes) -> None:
        self.issuer = settings.issuer
        self.verifier = DpopProofVerifier(
            nonces=deployment_nonces(master_key), require_nonce=settings.dpop_require_nonce
        )

    def accept(self, oauth_req: StarletteOAuth2Request, path: str) -> Response | None:
        """Checks the request's DPoP proof, if it has one, and remembers its key for this
        request (``RequestContext.dpop_jkt``); returns the refusal when it does not hold:
        400 ``invalid_dpop_proof``, or ``use_dpop_nonce`` with a fresh ``DPoP-Nonce``."""
        ctx = current.get()
        proofs = oauth_req.headers.getlist("dpop")
        if not proofs:
            return None
        try:
            if len(proofs) > 1:
                raise InvalidProof("send exactly one DPoP proof")
            proof = self.verifier.verify(
                proofs[0],
                method=oauth_req.method,
                url=public_url(self.issuer, path),
                now=ctx.now,
                replay=RequestProofs(ctx.db, ctx.now),
            )
        except InvalidProof as exc:
            body = {"error": exc.error, "error_description": str(exc)}
            return self.with_nonce(JSONResponse(body, 400, headers=NO_STORE))
        ctx.dpop_jkt = proof.jkt
        return None

    def at_resource(self) -> DpopProofVerifier:
        """How the provider's own resource endpoints (userinfo) check the proof that comes
        with a DPoP-bound token: nonces accepted, not demanded; proofs recorded in the
        request's unit of work."""
        ctx = current.get()
        return DpopProofVerifier(nonces=self.verifier.nonces, replay=RequestProofs(ctx.db, ctx.now))

    def with_nonce(self, response: Response) -> Response:
        """A fresh nonce with every answer to a request that sent a proof (§8.2)."""
        nonce = self.verifier.fresh_nonce(current.get().now)
        if nonce:
            response.headers["DPoP-Nonce"] = nonce
            response.headers["Access-Control-Expose-Headers"] = "DPoP-Nonce"
        return response


def binding(client: Client, bound_to: str | None, presented: str | None) -> str | None:
    """The key the tokens being issued are bound to (see the module's docstring), or an
    OAuth error. ``bound_to``: the key the code or refresh token demands."""
    if presented is None and client.dpop_bound_access_tokens:
        raise InvalidDpopProofError(
            description="This client must send a DPoP proof with every token request."
        )
    if bound_to is not None and presented != bound_to:
        raise InvalidGrantError(
            description="The grant is bound to a DPoP key: send a DPoP proof made with that key."
        )
    return presented
