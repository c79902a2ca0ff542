"""Small parsing and checking helpers shared by the validation rules.

Every check appends messages of the form ``<VARIABLE>.<path>: <rule>, got <value>``
to an error list and returns the (possibly normalised) value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel.speaklater import LazyString

TRUE_STRINGS = frozenset({"true", "1", "yes", "on"})
FALSE_STRINGS = frozenset({"false", "0", "no", "off"})
BOOL_RULE = "must be a boolean (true/1/yes/on or false/0/no/off)"

_INT_TEXT = re.compile(r"^[+-]?\d+$")


def parse_bool(value: Any) -> bool:
    """Parse a boolean strictly (07 §1.4); raise ValueError for anything else.

    Accepted: ``True``/``False``, the integers 1 and 0, and, case-insensitively,
    the strings true/1/yes/on and false/0/no/off.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_STRINGS:
            return True
        if text in FALSE_STRINGS:
            return False
    raise ValueError(f"not a boolean: {value!r}")


def show(value: Any) -> str:
    """Return a short printable form of a value for an error message."""
    text = repr(str(value)) if isinstance(value, LazyString) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def where(name: str, *keys: Any) -> str:
    """Return the path ``NAME.key[0].sub`` of a value inside a variable."""
    path = name
    for key in keys:
        path += f"[{key}]" if isinstance(key, int) else f".{key}"
    return path


def is_text(value: Any) -> bool:
    """Return True for a string or a lazily translated string."""
    return isinstance(value, (str, LazyString))


def is_number(value: Any) -> bool:
    """Return True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_bool(value: Any, path: str, errors: list[str]) -> Any:
    """Return the parsed boolean, or record an error and return the value."""
    try:
        return parse_bool(value)
    except ValueError:
        errors.append(f"{path}: {BOOL_RULE}, got {show(value)}")
        return value


def _range_text(kind: str, minimum: Any, maximum: Any, min_exclusive: bool) -> str:
    """Describe the allowed range of a number for an error message."""
    if minimum is not None and maximum is not None:
        if min_exclusive:
            return f"must be {kind} > {minimum} and <= {maximum}"
        return f"must be {kind} {minimum}-{maximum}"
    if minimum is not None:
        return f"must be {kind} {'>' if min_exclusive else '>='} {minimum}"
    if maximum is not None:
        return f"must be {kind} <= {maximum}"
    return f"must be {kind}"


def check_int(
    value: Any,
    path: str,
    errors: list[str],
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> Any:
    """Check an integer in ``[minimum, maximum]``; decimal strings are converted."""
    if value is None and allow_none:
        return None
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        value = int(value.strip())
    rule = _range_text("an integer", minimum, maximum, False)
    if allow_none:
        rule += " or None"
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"{path}: {rule}, got {show(value)}")
    elif (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        errors.append(f"{path}: {rule}, got {show(value)}")
    return value


def check_number(
    value: Any,
    path: str,
    errors: list[str],
    minimum: float | None = None,
    maximum: float | None = None,
    min_exclusive: bool = False,
) -> Any:
    """Check a number (int or float) in range; numeric strings are converted."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    rule = _range_text("a number", minimum, maximum, min_exclusive)
    if not is_number(value):
        errors.append(f"{path}: {rule}, got {show(value)}")
        return value
    too_low = minimum is not None and (
        value <= minimum if min_exclusive else value < minimum
    )
    if too_low or (maximum is not None and value > maximum):
        errors.append(f"{path}: {rule}, got {show(value)}")
    return value


def check_text(value: Any, path: str, errors: list[str]) -> Any:
    """Check a non-empty (possibly lazy) string."""
    if not is_text(value) or not str(value).strip():
        errors.append(f"{path}: must be a non-empty string, got {show(value)}")
    return value


def unknown(path: str, what: str, choices: Iterable[Any], got: Any = None) -> str:
    """Return the message for a value that is not among ``choices``."""
    message = f"{path}: unknown {what}, expected one of {', '.join(choices)}"
    return message if got is None else f"{message}, got {show(got)}"


def check_choice(
    value: Any, path: str, errors: list[str], choices: tuple[str, ...]
) -> Any:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        errors.append(f"{path}: must be one of {', '.join(choices)}, got {show(value)}")
    return value


def check_mapping(value: Any, path: str, errors: list[str]) -> bool:
    """Record an error unless ``value`` is a mapping; return whether it is."""
    if isinstance(value, Mapping):
        return True
    errors.append(f"{path}: must be a dict, got {show(value)}")
    return False


def check_keys(
    value: Mapping[str, Any], path: str, errors: list[str], allowed: Any
) -> None:
    """Record one error per key of ``value`` that is not in ``allowed``."""
    for key in value:
        if key not in allowed:
            errors.append(unknown(where(path, key), "key", sorted(allowed)))


def to_plain(value: Any) -> Any:
    """Return a copy with lazy strings rendered and tuples kept as lists."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value
