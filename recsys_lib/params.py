"""Hyperparameter declarations: every check of a model's parameters lives here.

Each model lists its hyperparameters once, in ``PARAMS`` (a dict of name -> :class:`Param`).
The constructor, :meth:`~recsys_lib.models.base.RatingModel.set_params` and the command line's
``--param KEY=VALUE`` all go through the same :meth:`Param.check`, so a value is refused the
same way wherever it comes from: with :class:`~recsys_lib.errors.InvalidParameterError`,
naming the parameter. The shared names and their meanings are in :mod:`recsys_lib.glossary`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .errors import InvalidParameterError

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
NONE_WORDS = ("none", "null")
MAX_SEED = 2**32 - 1
DEVICE_PATTERN = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One hyperparameter's type and range.

    ``kind`` is ``"int"``, ``"real"``, ``"bool"``, ``"choice"``, ``"sizes"`` (a positive int or
    a non-empty sequence of them), ``"device"`` or ``"text"`` (a string matching ``pattern``,
    described by ``words``). ``low``/``high`` bound numbers, closed unless
    ``low_open``/``high_open``; ``none`` allows None (a per-dataset default or "auto").
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    none: bool = False
    pattern: str = ""
    words: str = ""

    def describe(self) -> str:
        """The accepted values in words, for error messages and the glossary."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "sizes":
            text = "a positive integer or a list of them"
        elif self.kind == "device":
            text = "'cpu', 'cuda', 'cuda:N' or 'mps'"
        elif self.kind == "text":
            text = self.words
        else:
            noun = "an integer" if self.kind == "int" else "a finite number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
            text = noun + (" " + " and ".join(bounds) if bounds else "")
        return text + (" or None" if self.none else "")

    def _refuse(self, name: str, value) -> InvalidParameterError:
        return InvalidParameterError(f"{name} must be {self.describe()}, got {value!r}")

    def _in_range(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open
                                      else value > self.high):
            return False
        return True

    def check(self, name: str, value):
        """``value`` unchanged when it is acceptable; InvalidParameterError naming ``name``
        otherwise (a device this machine lacks included)."""
        value = self._valid(name, value)
        self._runs_here(name, value)
        return value

    def _valid(self, name: str, value):
        """``value`` when it has the declared type and range, else InvalidParameterError."""
        if value is None:
            if self.none:
                return value
            raise self._refuse(name, value)
        kind = self.kind
        if kind == "bool":
            ok = isinstance(value, (bool, np.bool_))
        elif kind == "int":
            ok = (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                  and self._in_range(value))
        elif kind == "real":
            ok = (isinstance(value, (int, float, np.integer, np.floating))
                  and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
                  and self._in_range(value))
        elif kind == "choice":
            ok = isinstance(value, str) and value in self.choices
        elif kind == "sizes":
            sizes = [value] if isinstance(value, (int, np.integer)) else value
            ok = (isinstance(sizes, (list, tuple)) and len(sizes) > 0
                  and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                          and s >= 1 for s in sizes))
        elif kind == "device":
            ok = isinstance(value, str) and bool(DEVICE_PATTERN.match(value))
        elif kind == "text":
            ok = isinstance(value, str) and bool(re.fullmatch(self.pattern, value))
        else:  # a declaration error, not a user's
            raise AssertionError(f"unknown parameter kind {kind!r}")
        if not ok:
            raise self._refuse(name, value)
        return value

    def _runs_here(self, name: str, value) -> None:
        """InvalidParameterError when ``value`` is a device this machine lacks."""
        if self.kind != "device" or value is None:
            return
        from .torch_utils import device_missing

        reason = device_missing(value)
        if reason:
            raise InvalidParameterError(f"{name}={value!r} cannot run here: {reason}; "
                                        f"leave {name} unset to use the fastest one here")

    def parse(self, name: str, text: str):
        """The value a command-line string stands for, checked. Booleans accept
        true/false/yes/no/1/0, None accepts none/null, sizes accept ``256,256`` or
        ``256x256``; numbers must be finite."""
        word = text.strip().lower()
        if self.none and word in NONE_WORDS:
            return None
        if self.kind == "bool":
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise self._refuse(name, text)
        try:
            if self.kind == "int":
                value = int(text)
            elif self.kind == "real":
                value = float(text)
            elif self.kind == "sizes":
                value = [int(part) for part in re.split(r"[,x]", text.strip("[]() "))]
                value = value[0] if len(value) == 1 else value
            else:
                value = text
        except ValueError:
            raise self._refuse(name, text) from None
        try:
            value = self._valid(name, value)
        except InvalidParameterError:
            raise self._refuse(name, text) from None  # name what was typed (1e400, not inf)
        self._runs_here(name, value)
        return value


def Int(low: int | None = 1, high: int | None = None, none: bool = False) -> Param:
    """An integer, by default >= 1 (a size or a count)."""
    return Param("int", low=low, high=high, none=none)


def Real(low: float | None = 0.0, high: float | None = None, low_open: bool = False,
         high_open: bool = False, none: bool = False) -> Param:
    """A finite number, by default >= 0."""
    return Param("real", low=low, high=high, low_open=low_open, high_open=high_open,
                 none=none)


def Positive(none: bool = False) -> Param:
    """A finite number > 0 (a learning rate, a penalty that must not vanish)."""
    return Real(0.0, low_open=True, none=none)


def Fraction(low_open: bool = True, high_open: bool = True) -> Param:
    """A number between 0 and 1 (open ends by default)."""
    return Real(0.0, 1.0, low_open=low_open, high_open=high_open)


def Bool() -> Param:
    return Param("bool")


def Choice(*choices: str) -> Param:
    return Param("choice", choices=tuple(choices))


def Sizes() -> Param:
    return Param("sizes")


def Text(pattern: str, words: str, none: bool = False) -> Param:
    """A string matching the regular expression ``pattern`` (whole), ``words`` saying which
    in an error message (a Spark master URL, a JVM memory size)."""
    return Param("text", pattern=pattern, words=words, none=none)


#: every model takes these two
SEED = Param("int", low=0, high=MAX_SEED)
DEVICE = Param("device", none=True)
COMMON = {"seed": SEED}
TORCH = {"seed": SEED, "device": DEVICE}


def check_params(model: str, declared: dict[str, Param], values: dict) -> None:
    """Check every value against its declaration; unknown names are refused too. The error
    names the model and the parameter."""
    for name, value in values.items():
        if name not in declared:
            raise InvalidParameterError(
                f"{model} has no parameter {name!r}; its parameters are "
                f"{', '.join(sorted(declared))}")
        try:
            declared[name].check(name, value)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{model}: {exc}") from None


def check_seed(seed) -> int:
    """A seed as the command line and :func:`recsys_lib.training.run` accept it."""
    return SEED.check("seed", seed)
