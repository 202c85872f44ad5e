import io

from ft_archiver_tools.progress import ProgressBar

MIB = 1024 * 1024


def test_progress_bar_draws_fraction_and_sizes() -> None:
    out = io.StringIO()
    bar = ProgressBar(4 * MIB, stream=out, width=8)
    bar(2 * MIB)
    bar(2 * MIB)
    bar.finish()
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("[########] 100% 4.0/4.0 MiB")
    assert out.getvalue().endswith("\n")


def test_half_done() -> None:
    bar = ProgressBar(100, stream=io.StringIO(), width=10)
    bar.done = 50
    assert bar.render(bar._started + 1).startswith("[#####.....]  50%")


def test_nothing_is_drawn_after_finish() -> None:
    out = io.StringIO()
    bar = ProgressBar(4 * MIB, stream=out, width=8)
    bar(MIB)
    bar.finish()
    drawn = out.getvalue()
    bar(MIB)  # a worker thread still reporting after the error line
    bar.finish()
    assert out.getvalue() == drawn
