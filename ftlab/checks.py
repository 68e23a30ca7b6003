"""Problems with a setting, as Events (ftlab.events) the UI writes in the person's language: the config's own
checks and each method's settings (ftlab.methods.settings) use these, so a setting's problem reads the same
wherever it is found. Each returns a list: empty when the value is good."""

from __future__ import annotations

from ftlab.events import Event


def at_least(key: str, value, low) -> list[Event]:
    return [] if value >= low else [Event("at_least", f"{key}: {value} must be at least {low}", setting=key, value=value,
                                          low=low)]


def between(key: str, value, low, high) -> list[Event]:
    if low <= value <= high:
        return []
    return [Event("between", f"{key}: {value} must be between {low} and {high}", setting=key, value=value, low=low,
                  high=high)]


def below(key: str, value, low, high) -> list[Event]:
    """`value` in [low, high): a share such as a dropout or a held-out fraction."""
    if low <= value < high:
        return []
    return [Event("below", f"{key}: {value} must be in [{low}, {high})", setting=key, value=value, low=low, high=high)]


def positive(key: str, value) -> list[Event]:
    return [] if value > 0 else [Event("positive", f"{key}: {value} must be positive", setting=key, value=value)]


def one_of(key: str, value, allowed) -> list[Event]:
    allowed = [str(a) for a in allowed]
    if str(value) in allowed and not isinstance(value, bool):
        return []
    return [Event("one_of", f"{key}: {value!r} is not one of {', '.join(allowed)}", setting=key, value=repr(value),
                  allowed=", ".join(allowed))]


def problem(code: str, text: str, **fields) -> Event:
    """A problem of its own kind (config.<code> in the locale)."""
    return Event(code, text, **fields)
