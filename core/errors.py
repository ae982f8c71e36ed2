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


class VersionInUse(SiftError):
    """A dataset version that registered models were trained on, so it cannot be deleted."""


class JobNotFound(SiftError):
    """No job with that number."""


class JobConflict(SiftError):
    """The job's state does not allow this: another job is active for the dataset, or it has finished."""


class JobFailed(SiftError):
    """A training job ended without registering a model: it failed or was cancelled."""


class InvalidBudget(SiftError):
    """A training budget (preset, trials or seconds) that Sift cannot use."""


class PromotionRefused(SiftError):
    """A promotion or rollback that cannot be done: same version, or no earlier champion to go back to."""


class ExportError(SiftError):
    """A model cannot be exported in the asked format, or the output folder cannot be used."""


class TrainingCancelled(SiftError):
    """Training stopped on request before anything was registered."""

    def __init__(self, message: str = "Training was cancelled; nothing was registered and the champion is unchanged."):
        super().__init__(message)


class PredictionNotFound(SiftError):
    """No prediction with that id in the ledger."""


class InvalidLabel(SiftError):
    """A label that is not one of the model's classes (a new class needs a new dataset version and a retrain)."""


class BatchInProgress(SiftError):
    """The same file is being scored right now by another worker."""


class BatchNotFound(SiftError):
    """No scored batch with that id."""


class NotEnoughFeedback(SiftError):
    """Too few usable labelled predictions to retrain and judge the result."""


class InvalidSetting(SiftError):
    """A setting (such as a retrain threshold) with a value Sift cannot use."""


class WindowTooSmall(SiftError):
    """Too few predictions in a window to measure drift: the figures would be noise."""


class DriftOptionError(SiftError):
    """A drift method or threshold that cannot be used for a column."""


class WindowNotFound(SiftError):
    """No stored monitoring window with that id."""


class AlertNotFound(SiftError):
    """No alert with that id."""


class MonitorOptionError(SiftError):
    """A monitoring schedule option that cannot be used (a duration that is not one)."""


class MonitorFailed(SiftError):
    """Measuring a dataset's windows failed (the others were measured)."""


class NoPredictions(SiftError):
    """The chosen window of the prediction ledger holds no predictions."""


class AccessSetupError(SiftError):
    """A configured password is not a hash Sift made, or a password to hash is unusable."""


class StudyNotJoinable(SiftError):
    """A tuning study a worker cannot join: unknown, of another dataset, finished, or not shared."""


class AlertDestinationError(SiftError):
    """An alert destination that cannot be used: not an http(s) URL, unknown, or none set for a dataset."""
