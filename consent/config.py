"""The consent service's tunables, built from the one ``Settings`` (STYLE.md: settings in
one place; nothing here reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from kit.settings import Settings


@dataclass(frozen=True)
class CheckpointPolicy:
    """When an append also signs a checkpoint: once this many entries are not yet covered by
    one, or the last one is older than ``max_age``. ``egate ledger checkpoint`` and the API
    sign on demand; a quiet log is covered by running the command from a timer."""

    max_entries: int = 1000
    max_age: timedelta = timedelta(minutes=1)
    sign_on_append: bool = True


@dataclass(frozen=True)
class IntegrityPolicy:
    """How the running server re-verifies its stored ledger (consent.ledger.integrity): every
    ``interval_seconds`` a background thread checks the head and re-hashes the next
    ``entries_per_tick`` stored entries; once caught up it starts over after ``rescan_seconds``."""

    background: bool = True
    interval_seconds: float = 2.0
    entries_per_tick: int = 1000
    rescan_seconds: float = 6 * 3600.0


@dataclass(frozen=True)
class SequencerPolicy:
    """How the ledger's sequencer (consent.ledger.sequencer) integrates queued entries: at
    most ``batch_size`` per batch; an idle sequencer looks at the queue every
    ``interval_seconds``; it signs a checkpoint at most once per
    ``checkpoint_interval_seconds`` (0: one per batch), over everything integrated since
    the last; its lease holds ``lease_seconds`` unrenewed, which is how long a dead
    sequencer's successor waits at most. ``enabled``: the server runs one."""

    enabled: bool = True
    batch_size: int = 5000
    interval_seconds: float = 0.05
    lease_seconds: float = 5.0
    checkpoint_interval_seconds: float = 1.0


@dataclass(frozen=True)
class GrantPolicy:
    """How long consent lasts. A per-request grant lives as long as the tokens of the one
    release flow it was given for may (the provider's refresh-token lifetime by default)."""

    remembered_for: timedelta = timedelta(days=365)
    per_request_for: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class ConsentConfig:
    checkpoints: CheckpointPolicy = field(default_factory=CheckpointPolicy)
    grants: GrantPolicy = field(default_factory=GrantPolicy)
    integrity: IntegrityPolicy = field(default_factory=IntegrityPolicy)
    sequencer: SequencerPolicy = field(default_factory=SequencerPolicy)
    # The provider's JWKS is cached this long; an unknown ``kid`` refetches sooner.
    jwks_cache_seconds: float = 60.0
    # When set, only these (first-party, public-subject) clients may use ``ledger:resident``.
    resident_client_ids: frozenset[str] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsentConfig:
        """The operator's ``EGATE_CONSENT_*`` settings; the defaults above are theirs too."""
        resident_clients = settings.consent_resident_client_ids
        return cls(
            checkpoints=CheckpointPolicy(
                max_entries=settings.consent_checkpoint_max_entries,
                max_age=timedelta(seconds=settings.consent_checkpoint_max_age_seconds),
            ),
            grants=GrantPolicy(
                remembered_for=timedelta(days=settings.consent_remembered_days),
                per_request_for=timedelta(days=settings.consent_per_request_days),
            ),
            sequencer=SequencerPolicy(
                enabled=settings.consent_sequencer_enabled,
                batch_size=settings.consent_sequencer_batch_size,
                interval_seconds=settings.consent_sequencer_interval_seconds
                or sequencer_interval_for(settings.effective_database_url),
                lease_seconds=settings.consent_sequencer_lease_seconds,
                checkpoint_interval_seconds=settings.consent_checkpoint_interval_seconds,
            ),
            jwks_cache_seconds=settings.consent_jwks_cache_seconds,
            resident_client_ids=(
                frozenset(part.strip() for part in resident_clients.split(",") if part.strip())
                if resident_clients
                else None
            ),
        )


# The idle sequencer's pause by backend, unless the operator sets one. On SQLite the
# sequencer is a thread of the serving process, so a batch's fixed cost (its transaction,
# the lease, the frontier, the fsync: about 1 ms) comes out of the requests' own CPU; at 0.05 s
# a userinfo call paid ~0.10 ms for its disclosure's integration, at 0.2 s ~0.06 ms (in
# process, docs/performance.md). On PostgreSQL the sequencer is a process of its own and the
# shorter pause keeps the integration lag low at 5,000 disclosures a second (issue #17).
SQLITE_SEQUENCER_INTERVAL_SECONDS = 0.2
POSTGRESQL_SEQUENCER_INTERVAL_SECONDS = 0.05


def sequencer_interval_for(database_url: str) -> float:
    if database_url.startswith("sqlite"):
        return SQLITE_SEQUENCER_INTERVAL_SECONDS
    return POSTGRESQL_SEQUENCER_INTERVAL_SECONDS


def ledger_origin(issuer: str) -> str:
    """The log's name in its checkpoints (c2sp.org/tlog-checkpoint: a schema-less URL)."""
    parts = urlsplit(issuer)
    return f"{parts.netloc}{parts.path.rstrip('/')}/consent/ledger"
