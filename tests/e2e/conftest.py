"""Fixtures for the end-to-end tests (helpers in e2e_support.py): real processes, killed by finalizers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import FakeProvider, Jaeger, start_fake_provider, start_jaeger


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs real Jaeger / Collector binaries (tests/e2e)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """One Jaeger for the session; each test uses its own service names."""
    with start_jaeger(tmp_path_factory.mktemp("jaeger")) as jaeger:
        yield jaeger


@pytest.fixture
def fake_provider(tmp_path: Path) -> Iterator[FakeProvider]:
    with start_fake_provider(tmp_path) as provider:
        yield provider
