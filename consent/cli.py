"""Administration commands of this service, registered into `egate`:

- ``egate ledger export --output FILE``: the offline verifier's JSON lines (signs a fresh
  checkpoint first, so every exported entry is covered; ``--no-checkpoint`` skips that).
- ``egate ledger verify FILE --public-key VKEY_OR_FILE [--trusted-checkpoint NOTE_FILE]``:
  offline, no database; with a checkpoint obtained elsewhere, truncation and rollback too.
- ``egate ledger checkpoint``: sign the current tree head now (run it from a timer to
  cover a quiet log).
- ``egate ledger public-key``: print the verifier key (vkey) auditors verify with.
- ``egate ledger sequence [--wait | --loop]``: integrate the queued entries now (one-shot), or run
  as a sequencer until stopped (a standby while another process holds the lease).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from consent.config import ConsentConfig, ledger_origin
from consent.ledger.checkpoint import CheckpointError, public_key_from_vkey, verify_signed_checkpoint
from consent.ledger.sequencer import Sequencer
from consent.ledger.service import Ledger, LedgerStateError, ProofRangeError
from consent.ledger.verifier import read_trusted_checkpoint, verify_export
from kit.db import session_scope
from kit.runtime import Runtime
from kit.settings import Settings


def _ledger(settings: Settings) -> tuple[Runtime, Ledger]:
    runtime = Runtime.build(settings)
    return runtime, Ledger(origin=ledger_origin(settings.issuer), master_key=runtime.master_key)


def _err(message: str) -> None:
    print(f"egate ledger: {message}", file=sys.stderr, flush=True)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """A damaged ledger is one line on stderr and exit status 1, and no file is left behind."""
    runtime, ledger = _ledger(settings)
    output = Path(args.output)
    temporary = output.with_name(output.name + ".partial")
    try:
        count = _export(args, runtime, ledger, temporary)
    except (LedgerStateError, ProofRangeError) as error:
        temporary.unlink(missing_ok=True)
        print(f"egate: ledger export failed: {error}", file=sys.stderr, flush=True)
        return 1
    temporary.replace(output)
    _err(f"wrote {count} lines to {output}")
    return 0


def _export(args: argparse.Namespace, runtime: Runtime, ledger: Ledger, temporary: Path) -> int:
    through: int | None = None
    if args.checkpoint:
        for db in session_scope(runtime.sessions):
            through = ledger.sign_checkpoint(db, runtime.clock()).tree_size
    elif not args.include_uncovered:
        for db in session_scope(runtime.sessions):
            latest = ledger.latest_checkpoint(db)
            through = latest.tree_size if latest else 0
    count = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for line in ledger.export_lines(runtime.sessions, through=through):
            handle.write(line)
            count += 1
    return count


def _read_public_key(value: str) -> str:
    """A vkey given inline, or the path of a file holding one."""
    candidate = Path(value)
    if candidate.is_file():
        return candidate.read_text(encoding="utf-8").strip()
    return value.strip()


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Needs nothing but the export and the key (and optionally a checkpoint kept from
    elsewhere): no database, no master secret."""
    try:
        vkey = _read_public_key(args.public_key)
        trusted_file = args.trusted_checkpoint
        trusted_text = Path(trusted_file).read_text(encoding="utf-8") if trusted_file else None
    except OSError as error:
        _err(f"cannot read: {error}")
        return 2
    try:
        key = public_key_from_vkey(vkey)
    except CheckpointError as error:
        _err(f"bad public key: {error}")
        return 2
    trusted = None
    if trusted_text is not None:
        try:
            trusted = read_trusted_checkpoint(trusted_text)
            verify_signed_checkpoint(trusted, key.public_key, key.key_name)
        except CheckpointError as error:
            _err(f"bad trusted checkpoint: {error}")
            return 2
    try:
        with open(args.file, encoding="utf-8") as lines:
            report = verify_export(
                lines,
                key,
                origin=args.origin,
                allow_uncovered_tail=args.allow_uncovered_tail,
                trusted_checkpoint=trusted,
            )
    except OSError as error:
        _err(f"cannot read: {error}")
        return 2
    except CheckpointError as error:  # the trusted checkpoint is of another log (--origin)
        _err(f"bad trusted checkpoint: {error}")
        return 2
    if not report.ok:
        print(f"FAILED: {report.first_error}")
        print(f"entries checked before the failure: {report.entries_checked}")
        return 1
    last = report.last_checkpoint
    print(f"OK: {report.entries_checked} entries, {report.checkpoints_checked} checkpoints verified")
    if last is not None:
        print(f"latest checkpoint: origin {last.origin}, size {last.tree_size}, time {last.timestamp}")
    if report.trusted_checkpoint is not None:
        print(f"consistent with the trusted checkpoint of size {report.trusted_checkpoint.tree_size}")
    if report.uncovered_entries:
        print(f"warning: {report.uncovered_entries} entries after the last checkpoint are not covered")
    return 0


def cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    runtime, ledger = _ledger(settings)
    try:
        for db in session_scope(runtime.sessions):
            checkpoint = ledger.sign_checkpoint(db, runtime.clock())
    except LedgerStateError as error:
        print(f"egate: ledger checkpoint refused: {error}", file=sys.stderr, flush=True)
        return 1
    sys.stdout.write(checkpoint.note)
    return 0


def cmd_public_key(args: argparse.Namespace, settings: Settings) -> int:
    runtime, ledger = _ledger(settings)
    for db in session_scope(runtime.sessions):
        key = ledger.verifier_key(db, runtime.clock())
    print(key.vkey)
    return 0


def cmd_sequence(args: argparse.Namespace, settings: Settings) -> int:
    """One-shot: integrate until the queue is empty, exit 3 if another process holds the
    lease (``--wait``: until it lapses, as a dead leader's does). ``--loop``: sequence until
    SIGTERM or SIGINT, then give the lease up."""
    runtime, ledger = _ledger(settings)
    sequencer = Sequencer(
        ledger, runtime.sessions, ConsentConfig.from_settings(settings).sequencer, clock=runtime.clock
    )
    try:
        if args.loop:
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            _err(f"sequencing as {sequencer.holder}")
            sequencer.run(stop)
            _err(f"stopped after integrating {sequencer.integrated_entries} entries")
        else:
            count = sequencer.drain()
            if args.wait and not sequencer.leading:
                # A dead leader's lease lapses within lease_seconds; then this one takes over.
                deadline = time.monotonic() + 2 * sequencer.policy.lease_seconds + 1
                while not sequencer.leading and time.monotonic() < deadline:
                    time.sleep(sequencer.policy.interval_seconds)
                    count += sequencer.drain()
            if not sequencer.leading:
                holder, until = sequencer.lease()
                _err(f"another sequencer ({holder}) holds the lease until {until}; nothing integrated")
                return 3
            _err(f"integrated {count} entries in {sequencer.batches} batches")
    except LedgerStateError as error:
        print(f"egate: ledger sequencing refused: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        sequencer.resign()
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this service's subcommands to the `egate` parser."""
    ledger = commands.add_parser("ledger", help="the disclosure ledger: export, verify, checkpoint")
    actions = ledger.add_subparsers(dest="ledger_command", required=True)

    export = actions.add_parser("export", help="write the ledger as the verifier's JSON lines")
    export.add_argument("--output", "-o", required=True, help="file to write")
    export.add_argument(
        "--no-checkpoint",
        dest="checkpoint",
        action="store_false",
        help="do not sign a checkpoint first; end at the latest existing one",
    )
    export.add_argument(
        "--include-uncovered",
        action="store_true",
        help="with --no-checkpoint: also export entries after the latest checkpoint",
    )
    export.set_defaults(handler=cmd_export)

    verify = actions.add_parser("verify", help="verify an export offline (no database needed)")
    verify.add_argument("file", help="the exported JSON lines")
    verify.add_argument("--public-key", required=True, help="the vkey, or a file holding it")
    verify.add_argument("--origin", help="require this log origin in every checkpoint")
    verify.add_argument(
        "--trusted-checkpoint",
        metavar="FILE",
        help="a signed checkpoint obtained elsewhere (note, or JSON with 'note'): the export must"
        " be consistent with it, which catches truncation and rollback",
    )
    verify.add_argument(
        "--allow-uncovered-tail",
        action="store_true",
        help="accept entries after the last checkpoint (reported, not verified)",
    )
    verify.set_defaults(handler=cmd_verify)

    checkpoint = actions.add_parser("checkpoint", help="sign a checkpoint of the current tree now")
    checkpoint.set_defaults(handler=cmd_checkpoint)

    sequence = actions.add_parser("sequence", help="integrate queued entries into the tree now")
    sequence.add_argument(
        "--loop",
        action="store_true",
        help="keep sequencing until stopped (a standby while another process holds the lease)",
    )
    sequence.add_argument(
        "--wait",
        action="store_true",
        help="one-shot: if another process holds the lease, wait for it to lapse (a dead leader's)",
    )
    sequence.set_defaults(handler=cmd_sequence)

    public_key = actions.add_parser("public-key", help="print the checkpoint verifier key (vkey)")
    public_key.set_defaults(handler=cmd_public_key)
