"""Fixtures for the engine's tests that follow a real schedule service (test_sync.py): the
sample media origin on 127.0.0.1, shared with the schedule service's tests."""

from tests.schedule_api.conftest import origin

__all__ = ["origin"]
