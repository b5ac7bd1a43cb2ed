"""The book's one figure style: every chapter calls :func:`use` once, then draws with it.

Figures are made at the width of the book's text column (:data:`COLUMN_WIDTH` inches at
:data:`DPI`, so an image is shown at its natural size, not shrunk), with no text under 9 pt.
Multi-panel figures go in rows (:func:`panels`), epoch axes get whole-number ticks
(:func:`whole_epochs`), RMSE axes a fixed number of decimals (:func:`decimals`), and a legend
for colours that a plot cannot label itself is built from patches (:func:`colour_legend`).
"""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

#: width of the book's text column in inches; at :data:`DPI` this is 680 pixels
COLUMN_WIDTH = 6.8
#: pixels per inch of the images the chapters show
DPI = 100
#: the smallest text size anywhere in a figure, in points
MIN_FONT = 9

RC = {
    "figure.figsize": (COLUMN_WIDTH, 3.6),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT,
    "ytick.labelsize": MIN_FONT,
    "legend.fontsize": MIN_FONT,
    "legend.title_fontsize": MIN_FONT,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "legend.frameon": True,
    "legend.framealpha": 0.9,
}


def use() -> None:
    """Set the book's theme: seaborn's white grid with the sizes of :data:`RC`."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", palette="tab10")
    mpl.rcParams.update(RC)
    try:  # the inline backend draws at its own dpi unless told otherwise
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - outside Jupyter
        pass


def figure(height: float = 3.6, **kwargs):
    """One axes at the column width, ``height`` inches high: ``fig, ax``."""
    return plt.subplots(figsize=(COLUMN_WIDTH, height), **kwargs)


def panels(n: int, per_row: int = 2, height: float = 2.8, **kwargs):
    """``n`` panels in rows of at most ``per_row``, at the column width: ``fig, axes``.

    ``axes`` is a flat list of the ``n`` axes in use; the unused cells of the grid are removed.
    ``height`` is the height of one row in inches.
    """
    ncols = min(n, per_row)
    nrows = math.ceil(n / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, height * nrows),
                             squeeze=False, **kwargs)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def whole_epochs(ax, axis: str = "x") -> None:
    """Ticks at whole numbers only (epochs, sweeps, neighbours), never half an epoch."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))


def decimals(ax, digits: int = 3, axis: str = "y") -> None:
    """Tick labels with ``digits`` decimals (an RMSE axis reads 0.91, 0.92, not 0.91250)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    target.set_major_formatter(FormatStrFormatter(f"%.{digits}f"))


def colour_legend(ax, colours: dict, **kwargs):
    """A legend with one patch per ``label: colour``, for bars coloured by a category.

    Legend entries made from empty bars all take the first colour; patches carry their own.
    """
    handles = [Patch(facecolor=colour, label=label) for label, colour in colours.items()]
    return ax.legend(handles=handles, **kwargs)
