"""recsys_lib: data, splits, metrics, models and training for the rating-prediction book."""

__version__ = "0.1.0"
