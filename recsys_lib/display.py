"""The book's one table formatter: every chapter shows its tables through :func:`table`.

A table as a reader wants it: the label column first, headers in words (the keys of
:mod:`recsys_lib.glossary` and the ``params.*`` columns of a record file are shown under the
glossary's labels, :data:`recsys_lib.glossary.LABELS`), and each figure rounded to the digits
that carry meaning (:func:`digits_for`): four for an RMSE or MAE, two or three for a ratio or
share, whole seconds above ten seconds, thousands separators for counts. A table that would be
mostly empty is refused: split it with :func:`split_sparse` and show the sparse columns as a
small table of their own.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .glossary import label


def header(key) -> str:
    """The words shown for column ``key``: its label in :data:`recsys_lib.glossary.LABELS`
    (of NAME for a ``params.NAME`` column), else the key with spaces for underscores."""
    if not isinstance(key, str):
        return str(key)
    if key.startswith("params."):
        key = key[len("params."):]
    return label(key)


def _kind(key) -> str:
    text = str(key).lower()
    if "second" in text or text.endswith("(s)"):
        return "seconds"
    if re.search(r"ratio|share|fraction|density|overlap|correlation|@|ndcg|precision|recall"
                 r"|gini|outside", text):
        return "ratio"
    if re.search(r"rmse|mae|error|gain|difference|gap|sd\b|std|published", text):
        return "rmse"
    return "other"


def digits_for(key, values: pd.Series):
    """A formatter for the values of column ``key``, by what the column means.

    RMSE-like columns (``rmse``, ``mae``, errors, gains, differences): 4 decimals; ratios,
    shares and ranking metrics: 3 decimals below 10, 2 significant figures' worth above;
    seconds: whole seconds from 10 s up, 1 decimal from 1 s, 2 below; counts: thousands
    separators; other numbers: 3 significant figures.
    """
    kind = _kind(key)
    numeric = pd.to_numeric(values, errors="coerce")
    finite = numeric[np.isfinite(numeric)] if len(numeric) else numeric

    def fmt(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if not isinstance(value, (int, float, np.integer, np.floating)):
            return str(value)
        value = float(value)
        if kind == "seconds":
            return f"{value:,.0f}" if abs(value) >= 10 else (
                f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}")
        if kind == "rmse":
            return f"{value:.4f}"
        if kind == "ratio":
            if 0 < abs(value) < 0.01:  # a density of 0.0003 is not 0.000
                return f"{value:.2g}"
            return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
        if integral:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"

    integral = bool(len(finite)) and bool((finite == finite.round()).all())
    return fmt


def split_sparse(frame: pd.DataFrame, min_filled: float = 0.5):
    """``(dense, sparse)``: the columns filled in at least ``min_filled`` of the rows, and the
    others with only the rows that fill one of them (``sparse`` is None when there is none)."""
    filled = frame.notna().mean()
    sparse_columns = list(filled.index[filled < min_filled])
    if not sparse_columns:
        return frame, None
    sparse = frame[sparse_columns]
    return frame.drop(columns=sparse_columns), sparse[sparse.notna().any(axis=1)]


TABLE_STYLES = [
    {"selector": "", "props": "font-size: 0.85em; border-collapse: collapse; "
                              "margin-bottom: 0.5em; max-width: 100%;"},
    {"selector": "th", "props": "white-space: normal; vertical-align: bottom; "
                                "text-align: right; padding: 0.2em 0.45em; "
                                "max-width: 9em;"},
    {"selector": "td", "props": "text-align: right; padding: 0.2em 0.45em; "
                                "white-space: nowrap; font-variant-numeric: tabular-nums;"},
    {"selector": "td.label, th.label", "props": "text-align: left;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; "
                                     "font-style: italic; padding-bottom: 0.3em;"},
]


def table(frame, label=None, columns=None, digits=None, caption=None, headers=None,
          max_empty: float = 0.5):
    """``frame`` formatted for the page: a pandas Styler.

    ``label``: a column to show first as the row label (default: the frame's index).
    ``columns``: the columns to show, in order (default: all). ``digits``: ``{column:
    decimals}`` overrides. ``headers``: ``{column: words}`` overrides of the glossary's labels.
    Raises ValueError when more than ``max_empty`` of the cells are empty (split the table
    with :func:`split_sparse`) or when a column name has no words.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    frame = frame.copy()
    if label is not None:
        frame = frame.set_index(label)
    if columns is not None:
        frame = frame[list(columns)]
    if frame.size and frame.isna().to_numpy().mean() > max_empty:
        raise ValueError(f"{frame.isna().to_numpy().mean():.0%} of the cells are empty: "
                         "split the table with display.split_sparse")
    words = {**{c: header(c) for c in frame.columns}, **(headers or {})}
    index_names = [n for n in frame.index.names]
    has_label = any(n is not None for n in index_names) or not isinstance(
        frame.index, pd.RangeIndex)
    if has_label:
        names = [n if n is not None else "" for n in index_names]
        frame.index = frame.index.set_names([f"__label{i}" for i in range(len(names))])
        frame = frame.reset_index()
        label_words = {f"__label{i}": header(n) for i, n in enumerate(names)}
        words.update(label_words)
    formatters = {}
    for column in frame.columns:
        if str(column).startswith("__label"):
            formatters[column] = digits_for("label", frame[column])
        elif digits and column in digits:
            formatters[column] = (lambda d: lambda v: "" if pd.isna(v) else f"{v:.{d}f}")(
                digits[column])
        else:
            formatters[column] = digits_for(column, frame[column])
    shown = frame.rename(columns=words)
    styler = shown.style.format({words[c]: f for c, f in formatters.items()}, na_rep="")
    styler = styler.hide(axis="index").set_table_styles(TABLE_STYLES)
    label_count = sum(str(c).startswith("__label") for c in frame.columns)
    if label_count:
        label_headers = [words[c] for c in frame.columns[:label_count]]
        styler = styler.set_properties(subset=label_headers,
                                       **{"text-align": "left", "font-weight": "bold",
                                          "white-space": "normal"})
    if caption:
        styler = styler.set_caption(caption)
    return styler
