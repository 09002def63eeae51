from __future__ import annotations

import pytest

from tests.identity.accounts.factories import Browser, FrozenClock


@pytest.fixture
def clock(runtime) -> FrozenClock:
    frozen = FrozenClock()
    runtime.clock = frozen
    return frozen


@pytest.fixture
def browser(runtime) -> Browser:
    return Browser(runtime)
