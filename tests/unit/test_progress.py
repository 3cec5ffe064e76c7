"""Progress bars appear for long loops only (recutils.utils.progress)."""

from __future__ import annotations

import pytest

from recutils.utils.progress import PROGRESS_DELAY_S, progress_bar

pytestmark = pytest.mark.unit


def test_one_step_or_disabled_loops_get_no_bar(capsys):
    for bar in (
        progress_bar(range(1), desc="one block"),
        progress_bar(total=1, desc="one"),
        progress_bar(range(50), desc="off", enabled=False),
        progress_bar(total=10, initial=9),
    ):
        assert bar.disable
        if bar.iterable is not None:
            assert list(bar) == list(bar.iterable)  # the items pass through
        bar.update(1)
        bar.set_postfix_str("ignored")
        bar.close()
    assert capsys.readouterr().err == ""


def test_a_fast_loop_draws_nothing_and_a_slow_one_draws_its_bar(capsys):
    assert PROGRESS_DELAY_S >= 0.5
    assert list(progress_bar(range(100), desc="fast")) == list(
        range(100)
    )  # done well within the delay
    assert capsys.readouterr().err == ""
    assert sum(progress_bar(range(3), desc="slow", delay=0)) == 3  # as if the delay had passed
    err = capsys.readouterr().err
    assert "slow" in err and "3/3" in err


def test_length_is_read_from_the_iterable_and_generators_still_get_a_bar():
    assert progress_bar([1, 2, 3]).total == 3
    bar = progress_bar(x for x in range(3))
    assert bar.total is None and not bar.disable
    bar.close()
