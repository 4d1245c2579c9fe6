"""A test whose data or server is missing skips locally and fails under CI (``CI=true``)."""

from __future__ import annotations

import pytest

from tests.conftest import in_ci, need


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception),
                                             ("false", pytest.skip.Exception)])
def test_missing_prerequisite_skips_locally_and_fails_in_ci(
        monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]) -> None:
    monkeypatch.setenv("CI", ci)
    assert in_ci() is (ci == "true")
    with pytest.raises(outcome, match="LUDB not found"):
        need(False, "LUDB not found at /nowhere")
    need(True, "present: neither skips nor fails")
