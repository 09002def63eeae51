"""`egate signing-ca init | show`: create the signing CA (its own root, or an intermediate under
an operator's root) and its time-stamping authority, and write the CA certificate to
``<data_dir>/signing-ca.pem`` (the private keys stay sealed in the database)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509

from identity.db import unit_of_work
from identity.signing import authority, certificates
from identity.signing.authority import AlreadyInitialised, AuthorityStore, SigningNotReady
from identity.signing.certificates import CertificateRequestRefused
from kit.console import progress
from kit.runtime import Runtime
from kit.settings import Settings

CA_FILE = "signing-ca.pem"


def ca_file(settings: Settings) -> Path:
    return settings.data_dir / CA_FILE


def write_ca_file(settings: Settings, pem: bytes) -> Path:
    path = ca_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    return path


def _read_issuer(args: argparse.Namespace) -> tuple[x509.Certificate | None, certificates.IssuerKey | None]:
    if bool(args.issuer_cert) != bool(args.issuer_key):
        raise CertificateRequestRefused("give both --issuer-cert and --issuer-key, or neither")
    if not args.issuer_cert:
        return None, None
    try:
        issuer_certificate = x509.load_pem_x509_certificate(Path(args.issuer_cert).read_bytes())
    except ValueError:
        raise CertificateRequestRefused("--issuer-cert is not a PEM certificate") from None
    return issuer_certificate, certificates.load_issuer_key(Path(args.issuer_key).read_bytes())


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    try:
        issuer_certificate, issuer_key = _read_issuer(args)
        with unit_of_work(runtime.sessions) as db:
            authority.initialise(
                db,
                runtime.master_key,
                runtime.clock(),
                issuer=settings.issuer,
                common_name=args.name,
                organization=args.organization,
                issuer_certificate=issuer_certificate,
                issuer_key=issuer_key,
            )
            current = AuthorityStore(runtime.master_key).current(db)
    except (AlreadyInitialised, CertificateRequestRefused, OSError) as exc:
        print(f"egate: {exc}", file=sys.stderr)
        return 1
    path = write_ca_file(settings, current.published_pem())
    kind = "an intermediate under the given root" if issuer_certificate else "its own root"
    progress(f"signing CA created ({kind}): {current.ca.certificate.subject.rfc4514_string()}")
    progress(f"  SHA-256 fingerprint: {certificates.fingerprint(current.ca.certificate)}")
    progress(f"  CA certificate written to {path}; published at {settings.issuer}/signing/ca.pem")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    try:
        with unit_of_work(runtime.sessions) as db:
            current = AuthorityStore(runtime.master_key).current(db)
    except SigningNotReady as exc:
        print(f"egate: {exc}", file=sys.stderr)
        return 1
    for certificate in (current.ca.certificate, current.tsa.certificate):
        print(f"{certificate.subject.rfc4514_string()}")
        print(f"  serial {certificates.serial_hex(certificate.serial_number)}")
        print(f"  valid until {certificate.not_valid_after_utc.isoformat()}")
        print(f"  SHA-256 {certificates.fingerprint(certificate)}")
    path = write_ca_file(settings, current.published_pem())
    print(f"CA certificate: {path}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ca = commands.add_parser("signing-ca", help="the digital signing CA and time-stamping authority")
    actions = ca.add_subparsers(dest="signing_ca_action", required=True)
    init = actions.add_parser("init", help="create the signing CA once (own root, or under --issuer-cert)")
    init.add_argument("--name", default=authority.DEFAULT_CA_NAME, help="the CA's common name")
    init.add_argument("--organization", default=authority.DEFAULT_ORGANIZATION)
    init.add_argument(
        "--issuer-cert", help="the operator's root certificate (PEM): make an intermediate under it"
    )
    init.add_argument(
        "--issuer-key", help="the operator's root key (PEM, unencrypted), used once and not kept"
    )
    init.set_defaults(handler=cmd_init)
    show = actions.add_parser("show", help="describe the CA and TSA; rewrite the CA certificate file")
    show.set_defaults(handler=cmd_show)
