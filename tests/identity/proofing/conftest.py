from __future__ import annotations

import pytest

from identity.proofing.evidence import EvidenceStore
from tests.identity.accounts.factories import Browser, FrozenClock


@pytest.fixture
def clock(runtime) -> FrozenClock:
    frozen = FrozenClock()
    runtime.clock = frozen
    return frozen


@pytest.fixture
def browser(runtime) -> Browser:
    return Browser(runtime)


@pytest.fixture
def store(runtime) -> EvidenceStore:
    return EvidenceStore.build(runtime.settings.data_dir, runtime.master_key)
