from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.identity.accounts.factories import FrozenClock


@pytest.fixture
def clock(runtime) -> FrozenClock:
    """Frozen at the real time: openssl and pyHanko check certificates against their own clock."""
    frozen = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    runtime.clock = frozen
    return frozen
