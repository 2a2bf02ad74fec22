"""In CI a test that needs a missing service fails; on a developer's machine it is skipped. CI is a boolean."""
import os
import subprocess
import sys

import pytest

from tests.services import in_ci
from tests.worker import ROOT


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("1", True), ("yes", True), ("TRUE", True), ("Yes", True), (" true ", True),
    ("", False), ("0", False), ("false", False), ("no", False), ("off", False),
])
def test_ci_is_read_as_a_boolean_the_usual_way(value, expected):
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False


PROBE = """
from tests.services import need


def test_needs_chromium():
    need("chromium")
"""


def _needs_chromium_with_none_there(tmp_path, ci):
    """A test that needs Chromium, run by a fresh pytest with Chromium pointed somewhere it is not."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "TEST_CHROMIUM": "/nonexistent/chromium", "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "test_probe.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("ci", ["1", "yes", "true"])
def test_in_ci_a_missing_service_fails_the_test(tmp_path, ci):
    done = _needs_chromium_with_none_there(tmp_path, ci)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 failed" in done.stdout and "Chromium at /nonexistent/chromium is not reachable" in done.stdout


@pytest.mark.parametrize("ci", [None, "0", "false"])
def test_outside_ci_a_missing_service_skips_the_test_and_says_why(tmp_path, ci):
    done = _needs_chromium_with_none_there(tmp_path, ci)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 skipped" in done.stdout and "Chromium at /nonexistent/chromium is not reachable" in done.stdout
