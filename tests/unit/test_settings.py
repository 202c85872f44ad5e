"""The settings model read from the environment, as Lambda and the command line give it."""

import pytest

from ft_archiver.domain.parts import GIB, MIB
from ft_archiver.domain.redelivery import SQS_MAX_DELAY_S
from ft_archiver.settings import Settings


@pytest.fixture(autouse=True)
def _no_budget_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FT_ARCHIVER_MEMORY_BUDGET",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "FT_ARCHIVER_LEASE_WAIT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_in_lambda_the_budget_follows_the_function_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")  # as Lambda sets it
    assert Settings().memory_budget == 768 * MIB
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    assert Settings().memory_budget == (3008 - 256) * MIB


def test_outside_lambda_the_budget_is_1_gib() -> None:
    assert Settings().memory_budget == GIB


def test_an_explicit_budget_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    monkeypatch.setenv("FT_ARCHIVER_MEMORY_BUDGET", "512MiB")
    assert Settings().memory_budget == 512 * MIB


def test_a_budget_of_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_ARCHIVER_MEMORY_BUDGET", "0")
    with pytest.raises(ValueError, match="FT_ARCHIVER_MEMORY_BUDGET"):
        Settings()


def test_a_request_held_elsewhere_is_asked_again_after_sqs_longest_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().lease_wait_s == SQS_MAX_DELAY_S == 900
    monkeypatch.setenv("FT_ARCHIVER_LEASE_WAIT", "901")  # more than SendMessage allows
    with pytest.raises(ValueError, match="FT_ARCHIVER_LEASE_WAIT"):
        Settings()
