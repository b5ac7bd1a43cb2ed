"""Exceptions raised by recsys_lib. Each names the problem it reports."""


class RecsysError(Exception):
    """Base class for every error raised on purpose by recsys_lib."""


class UnknownNameError(RecsysError, KeyError):
    """An unknown dataset, split or model name."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class DataIntegrityError(RecsysError):
    """A file does not match its recorded hash or cannot be read (truncated, corrupt)."""


class DataUnavailableError(RecsysError):
    """A dataset file could not be found in the cache or mirror, nor downloaded."""


class InvalidRatingsError(RecsysError, ValueError):
    """Ratings that break the dataset's declared contract (off the scale, NaN, duplicates)."""


class EmptySplitError(RecsysError, ValueError):
    """A train, test or validation part with no ratings."""


class TrainingDivergedError(RecsysError, FloatingPointError):
    """The training loss became NaN or infinite."""


class InvalidParameterError(RecsysError, TypeError, ValueError):
    """A hyperparameter the model does not take, or a value it cannot use."""


class RecordFileError(RecsysError):
    """A record file (``--record``, ``rerun``) that cannot be read, is damaged, or cannot be
    written: the message names the file and, for a damaged line, its line number."""


class UsageError(RecsysError):
    """A command line that cannot be understood (unknown flag, missing value, repeated flag)."""


class InvalidIndexError(RecsysError, IndexError, TypeError, ValueError):
    """Index arrays handed to ``predict`` with the wrong dtype, shape or range."""


class MissingRecordError(RecsysError, FileNotFoundError):
    """A record file the book needs does not exist (the message gives the command)."""


class MissingDependencyError(RecsysError):
    """A program or package a model needs is not installed (the message says how to get it)."""


class DistributedRunError(RecsysError):
    """A process of a multi-process (DDP) training run failed; the message gives its error."""


class SyntheticDatasetError(RecsysError):
    """A published figure asked for beside a synthetic dataset: synthetic RMSEs are never
    compared with the papers' (the message names the dataset)."""


class NotFittedError(RecsysError, ValueError, AttributeError):
    """A model asked to predict or report before ``fit`` (the message names the model)."""
