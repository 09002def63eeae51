from __future__ import annotations

import pytest

from tests.identity.accounts.factories import Browser


@pytest.fixture
def browser(runtime) -> Browser:
    return Browser(runtime)
