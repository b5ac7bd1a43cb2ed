"""Model registry. Every module of this package registers its models on import, one model
family per module; each model names the chapter that teaches it (``cls.chapter``).

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
    """An unfitted model called ``name`` with the given hyperparameters (checked; a bad one
    raises InvalidParameterError naming it)."""
    cls = get_model_class(name)
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown and "options" not in cls.param_names():
        raise InvalidParameterError(
            f"{name} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(cls.param_names())}")
    return cls(**params)


def available_models() -> list[str]:
    return sorted(MODELS)


for _module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    importlib.import_module(_module.name)

__all__ = ["MODELS", "RatingModel", "available_models", "create_model", "get_model_class",
           "register"]
