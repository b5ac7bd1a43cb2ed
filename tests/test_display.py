"""The book's table formatter: headers in words, digits by meaning, no mostly-empty table."""

import re

import numpy as np
import pandas as pd
import pytest

from recsys_lib import display, glossary


def _rendered(styler):
    return styler.to_html()


def test_label_column_first_and_headers_in_words():
    frame = pd.DataFrame({"model": ["baseline", "svd"], "rmse": [0.9612345, 0.9312],
                          "paper_best_test_rmse": [0.95, 0.92],
                          "params.validation_fraction": [0.0, 0.1],
                          "fit_seconds": [123.4, 0.456]})
    html = _rendered(display.table(frame, label="model"))
    assert html.index(">model<") < html.index("test RMSE")
    for raw in ("paper_best_test_rmse", "params.validation_fraction", "fit_seconds", ">rmse<"):
        assert raw not in html
    assert "validation share" in html
    assert "0.9612" in html and "0.96123" not in html
    assert ">123<" in html and "0.46" in html


def test_every_report_key_has_words():
    for key in glossary.SUMMARY_KEYS | glossary.REPORT_KEYS:
        assert "_" not in display.header(key), key
    assert display.header("params.n_factors") == "factors"


def test_headers_are_the_glossary_labels():
    """One vocabulary: every label is of a key the glossary defines, and display shows it."""
    defined = {*glossary.ALL_KEYS, *glossary.HYPERPARAMETERS,
               *glossary.FAMILY_HYPERPARAMETERS, *glossary.TABLE_KEYS}
    assert set(glossary.LABELS) <= defined, set(glossary.LABELS) - defined
    for key, words in glossary.LABELS.items():
        assert display.header(key) == words
    assert display.header("params.validation_fraction") == \
        glossary.LABELS["validation_fraction"]
    assert display.header("params.no_label") == "no label"


@pytest.mark.parametrize("key, value, shown", [
    ("rmse", 0.912345678, "0.9123"), ("validation_rmse", 1.0, "1.0000"),
    ("speed_ratio", 25.2345, "25.2"), ("test share", 0.2, "0.200"),
    ("fit_seconds", 45.6, "46"), ("fit_seconds", 3.21, "3.2"),
    ("fit_seconds", 0.0123, "0.01"), ("n_train", 80000.0, "80,000"),
])
def test_digits_by_meaning(key, value, shown):
    values = pd.Series([value])
    assert display.digits_for(key, values)(value) == shown


def test_mostly_empty_table_is_refused_and_split():
    frame = pd.DataFrame({"rmse": np.arange(6) / 10,
                          "paper_best_test_rmse": [0.1] + [np.nan] * 5,
                          "other": [np.nan] * 5 + [1.0]},
                         index=pd.Index(list("abcdef"), name="model"))
    dense, sparse = display.split_sparse(frame)
    assert list(dense.columns) == ["rmse"]
    assert list(sparse.index) == ["a", "f"]
    with pytest.raises(ValueError, match="split"):
        display.table(frame.assign(more=np.nan))
    display.table(dense)


def test_multiindex_labels_and_nan_cells_are_blank():
    frame = pd.DataFrame({"rmse": [0.9, np.nan, 0.8]}, index=pd.MultiIndex.from_tuples(
        [("ml-100k", "u1"), ("ml-1m", "r"), ("douban", "m")], names=["dataset", "split"]))
    html = _rendered(display.table(frame))
    assert "nan" not in html.lower() and ">dataset<" in html and ">split<" in html


def test_a_tiny_share_keeps_its_digits():
    assert display.digits_for("density", pd.Series([0.00028]))(0.00028) == "0.00028"


@pytest.mark.parametrize("key, value, shown", [
    ("gain over it", 0.00123, "+0.0012"), ("rmse - published", -0.0031, "-0.0031"),
    ("difference", -0.00001, "0.0000"), ("difference", 0.00004, "0.0000"),
    ("precision@10", 0.0598, "0.060"), ("recall@20", 0.112, "0.112"),
    ("rmse_sd", 0.01434, "0.0143"),
])
def test_one_format_per_kind_of_figure(key, value, shown):
    assert display.digits_for(key, pd.Series([value]))(value) == shown


def test_a_table_of_statistics_is_formatted_row_by_row():
    """Chapter 13 compared real and synthetic ML-1M as 6040.000 users and -0.000 shares: with
    ``by_row`` a count, a share and a mean rating each keep their own format, the
    difference column its sign, and a decimals override never prints -0."""
    stats = pd.DataFrame({"real": [6040, 0.5290, 0.0561, 3.58156],
                          "synthetic": [6040, 0.5289, 0.0562, 3.58210]},
                         index=["users", "user Gini", "share of 1 stars", "mean rating"])
    stats["synthetic - real"] = stats["synthetic"] - stats["real"]
    html = display.table(stats, by_row=True).to_html()
    for shown in ("6,040", ">0<", "0.529", ">0.000<", "0.056", "3.5816", "+0.0005"):
        assert shown in html, shown
    assert "-0.000" not in html and "6040.0" not in html
    tiny = pd.DataFrame({"x": [-0.00001]})
    assert "-0.000" not in display.table(tiny, digits={"x": 3}).to_html()


def test_printed_figures_follow_the_table_rule():
    assert display.rmse(0.89) == "0.8900"
    assert display.signed(0.0011) == "+0.0011" and display.signed(-0.0) == "0.0000"
    assert display.share(0.0598) == "0.060"
    assert display.seconds(45.6) == "46" and display.seconds(3.21) == "3.2"


def test_text_cells_wrap_and_numbers_do_not():
    frame = pd.DataFrame({"model": ["a", "b"], "rmse": [0.9, 0.8],
                          "interval": ["+0.0012 to +0.0040", "-0.0003 to +0.0021"],
                          "finding": ["yes", "no"]})
    html = _rendered(display.table(frame, label="model"))
    rules = re.findall(r"\n(#T_\w+(?:, #T_\w+)*) \{([^}]*)\}", html)
    def columns(rule):
        return {int(cell.rsplit("_col", 1)[1]) for cells, body in rules
                if rule in body for cell in cells.split(", ")}

    assert columns("white-space: normal") == {0, 2}  # the label and the interval
    assert columns("white-space: nowrap") == {1, 3}  # the number and yes/no
    # no rule on every cell of the table: "#T_x td" would outrank the cells' own rules
    assert "white-space" not in re.search(r"#T_\w+ td \{([^}]*)\}", html).group(1)
