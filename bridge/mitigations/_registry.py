"""The registry of mitigation methods, keyed by name.

>>> from fairbridge.mitigations import available_mitigations, resolve_mitigation
>>> "fairlearn.threshold_optimizer" in available_mitigations()
True
>>> resolve_mitigation("fairlearn.grid_search", constraint="equalized_odds")  # doctest: +SKIP
GridSearchMitigation(constraint='equalized_odds')

A class or a configured instance is the extension point: pass it wherever a name is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sklearn.base import clone

from fairbridge._validation import describe, problem

from ._base import Mitigation

__all__ = ["available_mitigations", "default_mitigations", "register", "resolve_mitigation"]

#: name -> loader returning the class (registration order is the default comparison order).
_METHODS: dict[str, Callable[[], type[Mitigation]]] = {}


def register(name: str) -> Callable[[type[Mitigation]], type[Mitigation]]:
    """Class decorator: register a :class:`Mitigation` subclass under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is already registered.
    """

    def deco(cls: type[Mitigation]) -> type[Mitigation]:
        if name in _METHODS:
            raise ValueError(f"mitigation {name!r} is already registered")
        if not (isinstance(cls, type) and issubclass(cls, Mitigation)):
            raise TypeError(f"register({name!r}): expected a Mitigation subclass, got {describe(cls)}")
        cls.name = name
        _METHODS[name] = lambda: cls
        return cls

    return deco


def available_mitigations() -> list[str]:
    """The registered method names, sorted."""
    return sorted(_METHODS)


def default_mitigations() -> list[str]:
    """The registered method names in registration order (``"baseline"`` first)."""
    return list(_METHODS)


def resolve_mitigation(method: Any, **options: Any) -> Mitigation:
    """A fresh, unfitted mitigation from a name, a class, or a configured instance.

    Parameters
    ----------
    method : str, Mitigation subclass, Mitigation instance, (name, options) or dict
        A registered name (see :func:`available_mitigations`); a class (built with
        ``options``); an instance (cloned, so the caller's object is never fitted in place);
        a pair ``(name, {options})``; or a dict ``{"name": ..., **options}`` (or
        ``{"name": ..., "options": {...}}``) as a configuration file writes it.
    **options
        Parameters of the method.

    Returns
    -------
    Mitigation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the sorted choices) or a bad option.
    TypeError
        For something that is not a mitigation.
    """
    who = "resolve_mitigation"
    if isinstance(method, tuple) and len(method) == 2 and isinstance(method[1], Mapping):
        return resolve_mitigation(method[0], **{**dict(method[1]), **options})
    if isinstance(method, Mapping):
        spec = dict(method)
        if "name" not in spec:
            raise ValueError(problem(who, "argument 'method'", "must have a 'name' key when it is "
                                     "a dict", describe(method),
                                     "Write {'name': 'fairlearn.grid_search', ...}."))
        name = spec.pop("name")
        nested = spec.pop("options", None) or {}
        return resolve_mitigation(name, **{**spec, **dict(nested), **options})
    if isinstance(method, str):
        try:
            cls = _METHODS[method]()
        except KeyError:
            raise ValueError(f"unknown mitigation {method!r}; choose one of "
                             f"{', '.join(sorted(_METHODS))}, or pass a Mitigation class or "
                             "instance") from None
        return _build(cls, options, who)
    if isinstance(method, type) and issubclass(method, Mitigation):
        return _build(method, options, who)
    if isinstance(method, Mitigation):
        inst = clone(method)
        if options:
            inst.set_params(**options)
        return inst
    raise TypeError(problem(who, "argument 'method'",
                            "must be a registered name, a Mitigation subclass or instance",
                            describe(method), f"Choose one of {', '.join(sorted(_METHODS))}."))


def _build(cls: type[Mitigation], options: dict[str, Any], who: str) -> Mitigation:
    valid = cls._get_param_names()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(problem(who, f"option(s) {unknown} of {getattr(cls, 'name', cls.__name__)!r}",
                                 f"must be among {valid}", repr(unknown),
                                 "Check the spelling of the method's options."))
    return cls(**options)
