"""Shared test configuration.

Hypothesis explores new examples on every local run; under CI (CI set) it runs derandomized,
so a submission lands or fails on its code, not on the luck of the draw. A failure found
locally is replayed from the example database like any other.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
