"""The bar figures report each bar to `pimlab.progress` (so an app shows how far it is) and stop at a bar
boundary when the callback cancels."""

import pytest

from pimlab.figures.fig08 import VARIANTS, fig8
from pimlab.figures.fig09 import fig9
from pimlab.figures.fig18 import fig18
from pimlab.progress import Cancelled, reporting

CASES = {  # figure call, bars it computes (counted by hand from its axes)
    "fig8": (lambda: fig8(dims=(64, 128), min_macs=64), 2 * len(VARIANTS)),
    "fig9": (lambda: fig9(groups=(1, 4), tokens=64), 2 * 2 * 2),  # groups x row reuse x {static, DCS}
    "fig18": (lambda: fig18(groups=(1, 2, 4), tokens=64), 2 * 3 * len(VARIANTS)),  # orders x groups x variants
}


@pytest.mark.parametrize("name", CASES)
def test_every_bar_is_reported_in_order(name):
    call, bars = CASES[name]
    seen = []
    with reporting(lambda done, total: seen.append((done, total))):
        call()
    assert seen == [(i, bars) for i in range(bars)]


@pytest.mark.parametrize("name", CASES)
def test_a_cancelling_callback_stops_the_figure(name):
    call, _ = CASES[name]
    seen = []

    def cancel_at_two(done, total):
        seen.append(done)
        if done == 2:
            raise Cancelled

    with pytest.raises(Cancelled), reporting(cancel_at_two):
        call()
    assert seen == [0, 1, 2]
