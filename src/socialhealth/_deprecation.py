"""Old spellings of parameters and option values, kept working for one release.

The package's vocabulary (CONTRIBUTING.md, "Vocabulary") is ``level`` for a confidence level,
``max_iter`` for an iteration limit, ``by`` for grouping variables, ``wave`` for a survey wave or
year and ``"linearisation"`` for Taylor linearisation. Older spellings (``ci_level=``,
``maxiter=``, ``hue=``, ``fetch(year=)``, ``variance="linearization"`` ...) still work for one
release: they emit a :class:`DeprecationWarning` naming the new spelling. Giving a parameter
under both its old and its new name raises :class:`~socialhealth.errors.ArgumentError`.

Because :func:`renamed_parameter` wraps with :func:`functools.wraps`, ``inspect.signature`` of a
decorated function shows only the new names; the old ones are listed in its
``__deprecated_parameters__`` (old name -> new name).
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from socialhealth._stack import user_stacklevel
from socialhealth.errors import ArgumentError

F = TypeVar("F", bound=Callable[..., Any])

#: The release after which the old spellings may be removed.
REMOVAL = "0.3.0"


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", getattr(func, "__name__", "function"))


def warn_renamed(where: str, old: str, new: str, since: str, *, stacklevel: int | None = None,
                 attribute: bool = False) -> None:
    """Emit the DeprecationWarning for a renamed parameter ``old`` -> ``new`` of ``where``.

    ``attribute=True``: ``old`` is an attribute (``where.old``), not a parameter.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("meta", "ci_level", "level", "0.1.0")
    >>> print(w[0].message)  # doctest: +ELLIPSIS
    meta(ci_level=...) is deprecated since socialhealth 0.1.0; use level= instead ...
    """
    if attribute:
        what, instead = f"{where}.{old}", f".{new}"
    else:
        what, instead = f"{where}({old}=...)", f"{new}="
    warnings.warn(
        f"{what} is deprecated since socialhealth {since}; use {instead} instead "
        f"(the old name will be removed after {REMOVAL}).",
        DeprecationWarning,
        stacklevel=user_stacklevel() if stacklevel is None else stacklevel)


def renamed_parameter(old: str, new: str, since: str,
                      transform: Callable[[Any], Any] | None = None) -> Callable[[F], F]:
    """Decorator: keyword ``old`` still works as ``new``, with a DeprecationWarning.

    Parameters
    ----------
    old, new : str
        The deprecated and the current parameter name.
    since : str
        The socialhealth version that renamed it.
    transform : callable, optional
        Converts a value given under the old name into the new parameter's value (e.g.
        ``alpha=0.05`` -> ``level=0.95``); by default the value is passed on unchanged.

    Returns
    -------
    callable
        The decorator.

    Raises
    ------
    ArgumentError
        (at call time) Both ``old`` and ``new`` were given.

    Examples
    --------
    >>> import warnings
    >>> @renamed_parameter("ci_level", "level", since="0.1.0")
    ... def f(x, level=0.95):
    ...     return level
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     f(1, ci_level=0.9)
    0.9
    >>> f(1, 0.8)
    0.8
    """
    def decorate(func: F) -> F:
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):  # pragma: no cover - builtins only
            sig = None

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                value = kwargs.pop(old)
                given_new = new in kwargs
                if not given_new and sig is not None:
                    try:
                        given_new = new in sig.bind_partial(*args, **kwargs).arguments
                    except TypeError:
                        given_new = False
                if given_new:
                    raise ArgumentError(
                        f"{_name(func)}() got both {new}= and its deprecated spelling {old}=; "
                        f"give only {new}=.")
                warn_renamed(_name(func), old, new, since)
                kwargs[new] = transform(value) if transform is not None else value
            return func(*args, **kwargs)

        renamed = dict(getattr(func, "__deprecated_parameters__", {}))
        renamed[old] = new
        wrapper.__deprecated_parameters__ = renamed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def alpha_to_level(alpha: Any) -> Any:
    """Convert a significance level ``alpha`` to the confidence ``level = 1 - alpha``.

    Examples
    --------
    >>> round(alpha_to_level(0.05), 10)
    0.95
    """
    try:
        return 1.0 - float(alpha)
    except (TypeError, ValueError):
        return alpha  # let the function's own level check report it


def renamed_value(where: str, parameter: str, value: Any, renamed: Mapping[str, str],
                  since: str) -> Any:
    """Map a deprecated option value (e.g. ``"linearization"``) to the current one, with a warning.

    Parameters
    ----------
    where : str
        The function's name, for the message.
    parameter : str
        The parameter's name.
    value : object
        The value given.
    renamed : mapping
        Deprecated value -> current value.
    since : str
        The socialhealth version that renamed it.

    Returns
    -------
    object
        The current spelling (``value`` itself when it is not deprecated).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     renamed_value("margins", "variance", "linearization",
    ...                   {"linearization": "linearisation"}, "0.1.0")
    'linearisation'
    """
    if isinstance(value, str) and value in renamed:
        current = renamed[value]
        warnings.warn(
            f"{where}({parameter}={value!r}) is deprecated since socialhealth {since}; use "
            f"{parameter}={current!r} instead (the old spelling will be removed after "
            f"{REMOVAL}).", DeprecationWarning, stacklevel=user_stacklevel())
        return current
    return value


#: Deprecated spellings of the ``variance=`` option value ``"linearisation"``.
LINEARISATION_ALIASES = {"linearization": "linearisation"}
