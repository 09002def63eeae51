"""Releasing claims: only those the resident agreed to (or a registered legal basis allows),
and every release recorded in the disclosure ledger through the consent port; and what an
access token may carry: the scopes the client registered, of which a role-bound scope only
for a holder of the role (identity/claims.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from identity.accounts import repository as accounts_repository
from identity.accounts.claims import UnknownAccount, claims_of, resident_claims
from identity.accounts.repository import SealedClaims
from identity.claims import (
    AUDITOR,
    CLIENT_SCOPE_ROLES,
    PERSON_SCOPE_ROLES,
    ROLES,
    claims_for_scope,
    fields_covered,
    is_verified_field,
    roles_behind,
    scopes_held,
)
from identity.claims_parameter import VERIFIED_CLAIMS
from identity.clients.models import Client
from identity.consent_port import CHANNEL_ID_TOKEN, CHANNEL_USERINFO, ConsentPort
from identity.oidc import verified_claims
from identity.oidc.adapter import RequestContext
from identity.oidc.tokens import Grantee, TokenIssuer, session_reference
from identity.proofing.verified import Verification, current_verification
from identity.security.keyring import Keyring
from identity.tokens import repository as tokens_repository
from identity.tokens.models import TokenView


class ClaimRelease:
    def __init__(
        self, consent: ConsentPort, issuer: TokenIssuer, keyring: Keyring, *, id_token_ttl: int
    ) -> None:
        self.consent = consent
        self.issuer = issuer
        self.keyring = keyring
        self.id_token_ttl = id_token_ttl

    def profile(self, ctx: RequestContext, account_id: str) -> dict[str, Any]:
        return resident_claims(ctx.db, self.keyring, account_id)

    def verification(self, ctx: RequestContext, account_id: str) -> Verification | None:
        """What proofing established about the account (None: self-asserted)."""
        return current_verification(ctx.db, self.keyring, account_id)

    def verified(
        self, ctx: RequestContext, account_id: str, section: dict[str, Any] | None, granted: tuple[str, ...]
    ) -> tuple[dict[str, Any], list[str]]:
        """``{"verified_claims": ...}`` for one target's request, and its ledger fields; empty
        unless the resident released verified fields and has a verification that meets the
        request (identity/oidc/verified_claims.py)."""
        if not section or VERIFIED_CLAIMS not in section or not any(map(is_verified_field, granted)):
            return {}, []
        element, fields = verified_claims.released(
            section, self.verification(ctx, account_id), granted, ctx.now
        )
        return ({VERIFIED_CLAIMS: element} if element is not None else {}), fields

    def id_token(
        self, ctx: RequestContext, client: Client, grantee: Grantee, access_token: str | None
    ) -> str:
        claims_request = grantee.extra_claims.get("claims_request") or {}
        section = claims_request.get("id_token") or {}
        asked = [n for n in section if isinstance(n, str) and n != VERIFIED_CLAIMS]
        names = fields_covered(grantee.granted_claims, asked)
        released: dict[str, Any] = {}
        if names:
            profile = self.profile(ctx, grantee.account_id)
            released = {n: profile[n] for n in names if n in profile}
        fields = ["sub", *released]
        verified, verified_fields = self.verified(ctx, grantee.account_id, section, grantee.granted_claims)
        released.update(verified)
        if client.first_party:
            staff = self.staff_claims(ctx, grantee.account_id)
            released.update(staff)
            fields += list(staff)
        token = self.issuer.id_token(
            ctx.db,
            client=client,
            grantee=grantee,
            access_token=access_token,
            now=ctx.now,
            ttl=self.id_token_ttl,
            released_claims=released,
            session_ref=session_reference(grantee.session_id),
        )
        self.record(
            ctx, client, grantee.account_id, CHANNEL_ID_TOKEN, fields + verified_fields, grantee.grant_id
        )
        return token

    def refreshed_id_token(
        self, ctx: RequestContext, client: Client, grantee: Grantee, access_token: str
    ) -> str:
        """The ID token of a refresh (OIDC Core §12.2): the same ``iss``, ``sub``, ``aud`` and
        ``azp``, the ``auth_time``, ``acr``, ``amr`` and ``sid`` of the original
        authentication (the refresh token's), a new ``iat``, no ``nonce``; the claims the
        authorization request asked for in the ID token (``grantee.extra_claims``, read
        with the refresh token), while the consent holds."""
        granted = grantee.granted_claims
        if granted and not self.release_allowed(ctx, client, grantee.grant_id):
            granted = ()
        refreshed = replace(grantee, nonce=None, granted_claims=granted)
        return self.id_token(ctx, client, refreshed, access_token)

    def userinfo(
        self, ctx: RequestContext, token: TokenView, client: Client, account: SealedClaims
    ) -> dict[str, Any]:
        """OIDC Core §5.3: ``sub`` plus the consented claims of the token's scope. A consent
        withdrawn since the token was issued takes effect here, on the next release.
        ``account``: the token's resident (userinfo refuses tokens without one), read once."""
        account_id = account.id
        body: dict[str, Any] = {"sub": self.issuer.subject(client, account_id)}
        granted = tuple(token.granted_claims)
        names = fields_covered(granted, claims_for_scope(token.scope))
        claims_request_names = [n for n in granted if n not in names and not is_verified_field(n)]
        names += fields_covered(granted, claims_request_names)
        verified_asked = any(map(is_verified_field, granted))
        if (names or verified_asked) and not self.release_allowed(ctx, client, token.grant_id):
            names, verified_asked = [], False
        if names:
            profile = claims_of(self.keyring, account, names)
            body.update({n: profile[n] for n in names if n in profile})
        fields = list(body)
        if verified_asked:
            verified, verified_fields = self.verified(
                ctx, account_id, self.userinfo_request(ctx, token), granted
            )
            body.update(verified)
            fields += verified_fields
        self.record(ctx, client, account_id, CHANNEL_USERINFO, fields, token.grant_id)
        return body

    def release_allowed(self, ctx: RequestContext, client: Client, grant_id: str | None) -> bool:
        """A consent still in force, or the client's registered legal basis. A consent
        withdrawn since the token was issued stops the next release."""
        if grant_id:
            return self.consent.grant_is_valid(ctx.db, grant_id, ctx.now)
        return bool(client.legal_basis)

    def userinfo_request(self, ctx: RequestContext, token: TokenView) -> dict[str, Any] | None:
        """The ``userinfo`` part of the ``claims`` parameter the token descends from: kept
        with its authorization code, which every access and refresh token of the grant names
        (``code_hash``) and which is never deleted (a replayed code must be recognised)."""
        claims_request = (
            tokens_repository.claims_request(ctx.db, token.code_hash) if token.code_hash else None
        )
        section = (claims_request or {}).get("userinfo")
        return section if isinstance(section, dict) else None

    def record(
        self,
        ctx: RequestContext,
        client: Client,
        account_id: str,
        channel: str,
        fields: list[str],
        grant_id: str | None,
    ) -> None:
        self.consent.record_disclosure(
            ctx.db,
            resident_id=account_id,
            client_id=client.client_id,
            department=client.department,
            channel=channel,
            fields=sorted(set(fields)),
            purpose=client.purpose or client.name,
            grant_id=grant_id,
            legal_basis=None if grant_id else client.legal_basis,
            request_id=ctx.request_id,
            now=ctx.now,
        )

    def access_grant(
        self, ctx: RequestContext, client: Client, grantee: Grantee | None, scope: str
    ) -> tuple[str, dict[str, Any]]:
        """The scope an access token carries, and its ``roles`` claim.

        Only scopes the client registered (RFC 6749 §3.3: the token response's ``scope`` then
        says what was granted); of the role-bound ones only those whose role the holder has:
        the person's staff roles, or, for a client's own token (``grantee`` None), the
        client's registration as an audit system. ``roles`` lists the holder's roles behind
        the granted scopes, so a resource server checks the role, not the scope alone.
        """
        registered = [s for s in dict.fromkeys(scope.split()) if s in client.allowed_scopes]
        if grantee is None:
            roles, scope_roles = ([AUDITOR] if client.audit_system else []), CLIENT_SCOPE_ROLES
        elif any(s in PERSON_SCOPE_ROLES for s in registered):
            roles, scope_roles = self.staff_roles(ctx, grantee.account_id), PERSON_SCOPE_ROLES
        else:  # no role-bound scope asked: the holder's roles change nothing, so are not read
            roles, scope_roles = [], PERSON_SCOPE_ROLES
        granted = scopes_held(registered, roles, scope_roles)
        behind = roles_behind(granted, roles, scope_roles)
        return " ".join(granted), ({ROLES: behind} if behind else {})

    def staff_roles(self, ctx: RequestContext, account_id: str) -> list[str]:
        standing = self.standing(ctx, account_id)
        return standing.roles if standing.kind == "staff" else []

    def staff_claims(self, ctx: RequestContext, account_id: str) -> dict[str, Any]:
        """An officer's roles and department, for the gateway's own services only (first-party
        clients such as the forms hub): what lets an officer work their department's queue."""
        standing = self.standing(ctx, account_id)
        if standing.kind != "staff":
            return {}
        return {"roles": list(standing.roles), "department": standing.department}

    def standing(self, ctx: RequestContext, account_id: str) -> accounts_repository.Standing:
        """Raises ``UnknownAccount``, like every read of an account a grant names."""
        standing = accounts_repository.standing(ctx.db, account_id)
        if standing is None:
            raise UnknownAccount(account_id)
        return standing
