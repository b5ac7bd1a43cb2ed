"""Model registry. Every module of this package registers its models on import.

Use :func:`create_model` with a registered name, or import a model class directly.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import InvalidParameterError, UnknownNameError
from .base import RatingModel

MODELS: dict[str, type[RatingModel]] = {}


def register(name: str):
    """Class decorator: register a :class:`RatingModel` subclass under ``name``."""
    def decorate(cls: type[RatingModel]) -> type[RatingModel]:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice")
        cls.name = name
        MODELS[name] = cls
        return cls
    return decorate


def get_model_class(name: str) -> type[RatingModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


def create_model(name: str, **params) -> RatingModel:
    """An unfitted model called ``name`` with the given hyperparameters."""
    cls = get_model_class(name)
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:  # unknown keyword, or a value the model rejects
        raise InvalidParameterError(f"bad parameters for model {name!r}: {exc}") from None


def available_models() -> list[str]:
    return sorted(MODELS)


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "RatingModel", "available_models", "create_model", "get_model_class",
           "register"]
