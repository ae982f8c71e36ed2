"""The errors a user can meet. Each message says what is wrong and what to do.

Pages and the command line catch :class:`SiftError` and show its message; anything else is a bug.
"""


class SiftError(Exception):
    """Base class: a problem the user can fix."""


class InputFileError(SiftError):
    """A file cannot be read or does not have the expected content."""


class InvalidName(SiftError):
    """A name (dataset, model) that Sift cannot use."""


class DatasetNotFound(SiftError):
    """No dataset (or dataset version) with that name/number."""


class ColumnError(SiftError):
    """A column is missing, duplicated or otherwise unusable."""


class TargetError(SiftError):
    """The target column cannot be used to train a classifier."""


class ModelNotFound(SiftError):
    """No registered model (or champion) for a dataset."""


class InputContractError(SiftError):
    """Input for scoring does not match the model's input contract."""
