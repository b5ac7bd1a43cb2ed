"""The book's one table formatter and its one number format: every chapter shows its tables
through :func:`table` and prints its figures through :func:`rmse`, :func:`signed`,
:func:`share` and :func:`seconds`.

A table as a reader wants it: the label column first, headers in words (the keys of
:mod:`recsys_lib.glossary` and the ``params.*`` columns of a record file are shown under the
glossary's labels, :data:`recsys_lib.glossary.LABELS`), and each figure in the format of its
kind (:func:`digits_for`). One rule per kind of figure, in tables and in printed sentences:

* an RMSE or MAE (and a standard deviation of one, or a mean rating): 4 decimals, ``0.8912``;
* a difference, gain or gap between two of them: signed, 4 decimals, ``+0.0012``, and
  ``0.0000`` when it rounds to zero (never ``-0.0000``);
* a share, ratio of counts or ranking metric (precision, recall, NDCG, correlation): 3
  decimals, ``0.060``; a density below 0.01 keeps two significant figures, ``0.00028``;
* seconds: whole seconds from 10 s up, 1 decimal from 1 s, 2 below;
* counts: thousands separators.

A table that would be mostly empty is refused: split it with :func:`split_sparse` and show the
sparse columns as a small table of their own.
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


def rmse(value: float) -> str:
    """An RMSE or MAE as the book prints it: 4 decimals."""
    return f"{float(value):.4f}"


def signed(value: float) -> str:
    """A difference of two RMSEs: signed, 4 decimals; ``0.0000`` when it rounds to zero."""
    text = f"{float(value):+.4f}"
    return "0.0000" if text in ("+0.0000", "-0.0000") else text


def share(value: float) -> str:
    """A share, ratio of counts or ranking metric: 3 decimals."""
    return f"{float(value):.3f}"


def seconds(value: float) -> str:
    """A duration in seconds: whole from 10 s up, 1 decimal from 1 s, 2 below."""
    value = float(value)
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}"


def _kind(key) -> str:
    text = str(key).lower()
    if "second" in text or text.endswith("(s)"):
        return "seconds"
    if "density" in text:
        return "density"
    if re.search(r"speed|times|x faster", text):
        return "speed"
    if re.search(r"gain|difference|gap|lost|\bvs\b|versus| - |minus|drift|change", text):
        return "difference"
    if re.search(r"ratio|share|fraction|overlap|correlation|@|ndcg|precision|recall"
                 r"|gini|outside|coverage", text):
        return "share"
    if re.search(r"rmse|mae|error|sd\b|std|published|mean rating", text):
        return "rmse"
    return "other"


def digits_for(key, values: pd.Series):
    """A formatter for the values of column ``key``, by the kind of figure its name says
    (the module's rule): RMSE-like, a difference, a share, a density, a speed ratio (one
    decimal), seconds, a count, or another number (3 significant figures)."""
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
            return seconds(value)
        if kind == "rmse":
            return rmse(value)
        if kind == "difference":
            return signed(value)
        if kind == "share":
            return share(value) if abs(value) < 10 else f"{value:,.1f}"
        if kind == "density":
            return f"{value:.2g}" if 0 < abs(value) < 0.01 else share(value)
        if kind == "speed":
            return f"{value:,.1f}"
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
                                "font-variant-numeric: tabular-nums;"},
    {"selector": "td.label, th.label", "props": "text-align: left;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; "
                                     "font-style: italic; padding-bottom: 0.3em;"},
]


def _no_negative_zero(text: str) -> str:
    """``-0.000`` (a small negative rounded away) as ``0.000``."""
    return text[1:] if text.startswith("-") and not re.search(r"[1-9]", text) else text


def _signed(text: str) -> str:
    """A formatted difference with its sign: ``+`` before a non-zero positive, no ``-0``."""
    text = _no_negative_zero(text)
    return f"+{text}" if re.search(r"[1-9]", text) and text[:1] not in "-+" else text


def _by_row(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one statistic a row) as text, each row in the format its label's kind
    asks for, and the difference columns signed in that format."""
    shown = frame.astype(object)
    for key, row in frame.iterrows():
        fmt = digits_for(key, row)
        shown.loc[key] = [_signed(fmt(value)) if _kind(column) == "difference"
                          else fmt(value) for column, value in row.items()]
    return shown


def table(frame, label=None, columns=None, digits=None, caption=None, headers=None,
          max_empty: float = 0.5, by_row: bool = False):
    """``frame`` formatted for the page: a pandas Styler.

    ``label``: a column to show first as the row label (default: the frame's index).
    ``columns``: the columns to show, in order (default: all). ``digits``: ``{column:
    decimals}`` overrides. ``headers``: ``{column: words}`` overrides of the glossary's labels.
    ``by_row``: the rows, not the columns, are the kinds of figure (a table of statistics of
    several datasets): each row is formatted by its label, a difference column signed.
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
    if by_row:
        frame = _by_row(frame)
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
            formatters[column] = (lambda d: lambda v: "" if pd.isna(v) else
                                  _no_negative_zero(f"{v:.{d}f}"))(digits[column])
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
    # A number never wraps; a text column wraps at its spaces, so that a long label or an
    # interval written out keeps the table within the text column. (Set per cell: a rule on
    # "#table td" would outrank the cells' own rules.)
    text = [words[c] for c in frame.columns[label_count:]
            if not pd.api.types.is_numeric_dtype(frame[c])
            and frame[c].map(lambda v: isinstance(v, str) and " " in v).any()]
    numbers = [words[c] for c in frame.columns[label_count:] if words[c] not in text]
    if text:
        styler = styler.set_properties(subset=text, **{"white-space": "normal"})
    if numbers:
        styler = styler.set_properties(subset=numbers, **{"white-space": "nowrap"})
    if caption:
        styler = styler.set_caption(caption)
    return styler
