"""Render the README's picture from pimlab's own figure data.

Needs kaleido and a Chromium (neither is a dependency of the kit): python docs/make_figures.py
"""

import pathlib

from pimlab.figures import fig2
from pimlab_widgets.fig02 import fig2_figure

HERE = pathlib.Path(__file__).parent

if __name__ == "__main__":
    figure = fig2_figure(fig2())
    figure.update_layout(width=1000, height=420)
    figure.write_image(HERE / "fig02.png", scale=1)
    print("wrote", HERE / "fig02.png")
