"""With CI=true (or 1), a skipped end-to-end or ccusage test fails and says why; elsewhere it
stays a skip. Runs the real tests/conftest.py in a separate pytest on a tiny test tree."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
RUN_TIMEOUT_S = 120

TREE = {
    "e2e/test_neovim.py": """
import pytest

pytest.skip("nvim is not installed", allow_module_level=True)
""",
    "e2e/test_fine.py": """
def test_runs():
    pass
""",
    "test_mixed.py": """
import pytest


@pytest.fixture
def node():
    pytest.skip("node is not installed")


@pytest.mark.e2e
def test_skips_in_its_body():
    pytest.skip("chromium is not installed")


@pytest.mark.ccusage
@pytest.mark.skipif(True, reason="../shared/samples is not present")
def test_skipif():
    pass


@pytest.mark.e2e
def test_skips_in_a_fixture(node):
    pass


def test_ordinary_skip():
    pytest.skip("the XDG folders are Linux's")


@pytest.mark.e2e
@pytest.mark.xfail(reason="a known bug")
def test_expected_failure():
    assert False
""",
}

CI_REASONS = [
    "skipped in CI: nvim is not installed",
    "skipped in CI: chromium is not installed",
    "skipped in CI: ../shared/samples is not present",
    "skipped in CI: node is not installed",
]


@pytest.fixture
def tree(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest((TESTS / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    e2e: real programs\n    ccusage: samples\n")
    for name, source in TREE.items():
        path = pytester.path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the conftest imports git_support
    return pytester


def run(tree: pytest.Pytester, *args: str) -> pytest.RunResult:
    return tree.runpytest_subprocess("-ra", "-p", "no:cacheprovider", *args,
                                     timeout=RUN_TIMEOUT_S)


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_in_ci_skipped_e2e_and_ccusage_tests_fail_with_their_reason(
    tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    result = run(tree)
    # Skips in a test's body fail; skips in setup (skipif, a fixture) are errors at setup.
    result.assert_outcomes(passed=1, failed=2, errors=2, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    for reason in CI_REASONS:
        assert reason in output
    assert "e2e/test_neovim.py::skipped_at_import" in output
    assert "the XDG folders are Linux's" in output  # still a skip, with its reason


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_they_stay_skips_with_reasons(
    tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = run(tree)
    result.assert_outcomes(passed=1, skipped=5, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    output = result.stdout.str()
    assert "skipped in CI" not in output
    for reason in CI_REASONS:
        assert reason.removeprefix("skipped in CI: ") in output


def test_deselecting_e2e_in_ci_deselects_the_stand_in(
    tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = run(tree, "-m", "not e2e")
    result.assert_outcomes(passed=1, errors=1, skipped=1, deselected=4)
    assert "skipped in CI: ../shared/samples is not present" in result.stdout.str()
