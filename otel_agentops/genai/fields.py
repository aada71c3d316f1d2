"""Reading requests and responses of any SDK: plain dicts (requests, raw bodies) or SDK model objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any


def field(obj: Any, name: str) -> Any:
    """A field of an SDK model or of a plain dict; None when absent."""
    # dict, not the Mapping ABC: an ABC isinstance check costs more than the rest of this function.
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


class Arguments:
    """Reads call arguments, treating an SDK's "not given" sentinels (NOT_GIVEN, omit) as absent.

    The sentinel classes are looked up when instrumenting (`load_sentinels`), so that importing a provider
    module does not import its SDK.
    """

    __slots__ = ("sentinels",)

    def __init__(self) -> None:
        self.sentinels: tuple[type, ...] = ()

    def load_sentinels(self, sdk: ModuleType) -> None:
        self.sentinels = tuple(t for t in (getattr(sdk, "NotGiven", None), getattr(sdk, "Omit", None)) if t)

    def __call__(self, kwargs: Mapping[str, Any], key: str) -> Any:
        value = kwargs.get(key)
        if value is None or isinstance(value, self.sentinels):
            return None
        return value

    def copy_into(
        self, attributes: dict[str, Any], kwargs: Mapping[str, Any], params: Iterable[tuple[str, str]]
    ) -> None:
        """``attributes[attribute] = argument`` for each ``(argument name, attribute)`` given; one call
        for a request's dozen optional parameters rather than one each."""
        sentinels = self.sentinels
        for key, attribute in params:
            value = kwargs.get(key)
            if value is not None and not isinstance(value, sentinels):
                attributes[attribute] = value
