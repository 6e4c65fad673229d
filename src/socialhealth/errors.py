"""Exceptions raised by socialhealth.

Every error the package raises on bad input derives from :class:`SocialHealthError`, so
``except socialhealth.errors.SocialHealthError`` catches them all.  Each message says what was
wrong and what to do about it.  Most classes also derive from ``ValueError`` (or ``KeyError`` /
``RuntimeError`` where that is the natural built-in), so code written against the built-ins keeps
working.
"""
from __future__ import annotations


class SocialHealthError(Exception):
    """Base class of every socialhealth exception."""


class SocialHealthWarning(UserWarning):
    """Base class of socialhealth warnings (e.g. rows left out of an estimate)."""


# ----------------------------------------------------------------------------- design engine
class DesignError(SocialHealthError, ValueError):
    """A survey design cannot be built or used as specified."""


class WeightError(DesignError):
    """Weights (or probabilities) are non-numeric, missing, non-positive or infinite."""


class LonelyPSUError(DesignError):
    """A stratum has a single PSU and ``lonely_psu="fail"``."""


class NestingError(DesignError):
    """PSUs are not nested in strata (the same PSU code appears in several strata)."""


class FPCError(DesignError):
    """A finite population correction is inconsistent with the sample."""


class ProbabilityError(DesignError):
    """Selection or inclusion probabilities outside (0, 1]."""


class FormulaError(DesignError):
    """A model formula cannot be evaluated (unknown columns, bad syntax)."""


class ReplicateWeightsError(DesignError):
    """Replicate weights are missing or have the wrong shape or values."""


class EstimationError(SocialHealthError, ValueError):
    """An estimate cannot be computed from the data given (e.g. an empty domain)."""


class NotApplicableError(EstimationError):
    """A member of the result protocol that does not apply to this kind of result (e.g. the
    covariance of a Kaplan-Meier curve, ``float()`` of a multi-row table, the interval of a
    test). The message says why and what to use instead."""


class ConvergenceError(SocialHealthError, RuntimeError):
    """An iterative fit (GLM, calibration, Cox model) did not converge."""


class ConvergenceWarning(SocialHealthWarning):
    """An iterative fit converged only loosely."""


class RowsDroppedWarning(SocialHealthWarning):
    """Rows were left out of an estimate because of missing values."""


class NegativeWeightsWarning(SocialHealthWarning):
    """Calibration made some weights negative (an unbounded linear calibration can).

    Totals and means use them as R does, but a variance, proportion or distribution function
    estimated from them can fall outside its range, and GLMs refuse them (as R's ``svyglm``).
    Calibrating with ``bounds=(L, U)``, ``L > 0``, or ``calfun="raking"`` / ``"logit"`` keeps
    every weight positive."""


class RDifferenceWarning(SocialHealthWarning):
    """A valid result that R ``survey`` computes differently by default (documented where it
    is raised, with the option that reproduces R's number)."""


# ----------------------------------------------------------------------------- datasets
class DatasetError(SocialHealthError, ValueError):
    """A dataset cannot be loaded as requested."""


class UnknownDatasetError(DatasetError, KeyError):
    """The name is not in the dataset registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SurveyFileError(DatasetError):
    """The file is not the survey's file (wrong survey, corrupt, empty, wrong format)."""


class UnknownWaveError(DatasetError):
    """The requested year or wave is not covered by the survey's codebook."""


class LicensedDataError(DatasetError):
    """The survey is licensed: the user must obtain the file and pass ``path=``."""


class DataNotCachedError(DatasetError):
    """An open survey was requested without a path and is not in the local cache."""


class ChecksumError(DatasetError):
    """A downloaded file does not match its registered checksum."""


class CacheError(DatasetError):
    """The cache folder cannot be created or used (a path under a file, a read-only parent).

    The message names the way out: ``SOCIALHEALTH_CACHE`` pointing at a writable folder, or
    ``cache=False``.
    """


class CacheWarning(SocialHealthWarning):
    """A cache file (table or hash index) was unreadable or damaged and is being rebuilt, or the
    cache could not be written; the load itself goes on from the survey file."""


class DesignFallbackWarning(SocialHealthWarning):
    """The survey's full design could not be built from the file (e.g. no PSU/strata).

    The loader then returns a weights-only design (SRS with replacement, R
    ``svydesign(ids = ~1, weights = ~w)``) and says so in the warning, the provenance and the
    codebook notes; standard errors are then usually too small. Also importable as
    ``socialhealth.datasets.DesignFallbackWarning``.

    Examples
    --------
    >>> import warnings
    >>> from socialhealth.datasets import DesignFallbackWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", DesignFallbackWarning)   # make a fallback fatal
    ...     try:
    ...         warnings.warn("no PSU column: weights-only design", DesignFallbackWarning)
    ...     except DesignFallbackWarning as w:
    ...         print("stopped:", w)
    stopped: no PSU column: weights-only design
    """


class TruncatedFileError(SurveyFileError):
    """The survey file is shorter than its own header says (an incomplete download or copy)."""


class WrongFileFormatError(SurveyFileError):
    """The file's content is not the format its extension claims (e.g. a PNG named ``.dta``)."""


class LoaderNotImplementedError(DatasetError, NotImplementedError):
    """The survey is registered but its loader is not written yet."""


# ----------------------------------------------------------------------------- measures
class MeasureError(SocialHealthError, ValueError):
    """An instrument cannot be scored from the data given."""


class ItemCodeError(MeasureError):
    """Item responses outside the instrument's codes."""


class ItemCountError(MeasureError):
    """Wrong number (or names) of items for the instrument."""


class CodingError(MeasureError):
    """Unknown or ambiguous response coding."""


# ----------------------------------------------------------------------------- data (any part)
class DataError(SocialHealthError, ValueError):
    """The data passed to a design, model, loader or measure lack something it needs."""


class MissingColumnError(DataError, DesignError, DatasetError, MeasureError):
    """A column named in a design, formula, model, loader or measure is not in the data.

    A :class:`DataError`; also a :class:`DesignError`, :class:`DatasetError` and
    :class:`MeasureError`, so the handler of whichever part raised it (a design, a loader, a
    measure) catches it.
    """

    def __init__(self, columns, available=None, where: str = "the data"):
        if isinstance(columns, str):
            columns = [columns]
        self.columns = list(columns)
        msg = f"column(s) {', '.join(repr(c) for c in self.columns)} not found in {where}"
        if available is not None:
            import difflib

            hints = []
            for c in self.columns:
                close = difflib.get_close_matches(str(c), [str(a) for a in available], n=3)
                if close:
                    hints.append(f"{c!r}: did you mean {', '.join(repr(x) for x in close)}?")
            if hints:
                msg += "; " + " ".join(hints)
        if "design data" in where or "design's data" in where:
            # a design keeps the frame it was defined with (a shallow copy): a column added to
            # the user's frame afterwards never reaches it
            msg += (". Check the spelling, or add the column to the design with "
                    "design.assign(name=values): a design keeps the data frame it was defined "
                    "with, so columns added to your data frame afterwards are not in it.")
        else:
            msg += ". Check the spelling or add the column to the data frame."
        super().__init__(msg)


# ----------------------------------------------------------------------------- models
class ModelError(SocialHealthError, ValueError):
    """A model cannot be fitted as specified."""


class SeparationError(ModelError):
    """Perfect or quasi-perfect separation: maximum-likelihood estimates do not exist."""

    #: set by the GLM fit when it finds the direction: the coefficients that diverge and the
    #: number of rows they predict perfectly
    terms: list[str]
    n_rows: int


# ----------------------------------------------------------------------------- report / CLI
class ReportError(SocialHealthError, ValueError):
    """A report cannot be built as requested."""


class PlotError(SocialHealthError, ValueError):
    """A plot cannot be drawn from the data given (missing columns, bad scale, ambiguous input)."""


# ----------------------------------------------------------------------------- arguments
class ArgumentError(SocialHealthError, TypeError):
    """Arguments conflict, e.g. a parameter given under both its new and its deprecated name."""
