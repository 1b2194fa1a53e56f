"""The billet ID format of a project: a regular expression and an optional check digit."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The paper's plants stamp 11 characters; this is the default pattern for a new project.
DEFAULT_ID_REGEX = r"\d{6}[A-Z]\d{4}"

CHECK_DIGIT_RULES = ("luhn", "mod11")


def _char_value(char: str) -> int:
    """0-9 for digits, 10-35 for letters A-Z (the ISO 7064 / ISIN convention)."""
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise ValueError(f"character {char!r} has no check-digit value")


def luhn_check_digit(payload: str) -> str:
    """The Luhn (ISO/IEC 7812) digit for ``payload``; letters expand to two digits (ISIN)."""
    digits = "".join(str(_char_value(c)) for c in payload)
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def mod11_check_digit(payload: str) -> str:
    """ISO 7064 MOD 11-2 over character values; a remainder of 10 is written 'X'."""
    total = 0
    for char in payload:
        total = ((total + _char_value(char)) * 2) % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)


@dataclass(frozen=True)
class IdFormat:
    """A billet ID format: ``regex`` must match the whole ID; with ``check_digit`` set, the
    last character is a check digit over the characters before it."""

    regex: str = DEFAULT_ID_REGEX
    check_digit: str | None = None

    def __post_init__(self) -> None:
        try:
            re.compile(self.regex)
        except re.error as error:
            raise ValueError(f"ID format regex {self.regex!r} is not valid: {error}") from None
        if self.check_digit is not None and self.check_digit not in CHECK_DIGIT_RULES:
            raise ValueError(
                f"unknown check-digit rule {self.check_digit!r}; "
                f"known rules: {', '.join(CHECK_DIGIT_RULES)}"
            )

    def expected_check_digit(self, billet_id: str) -> str | None:
        """The check digit the characters before the last call for; separators (anything
        but digits and A-Z) are not stamped characters and do not count."""
        payload = "".join(c for c in billet_id[:-1] if c.isascii() and c.isalnum())
        if self.check_digit is None or not payload:
            return None
        rule = luhn_check_digit if self.check_digit == "luhn" else mod11_check_digit
        try:
            return rule(payload)
        except ValueError:
            return None

    def problem(self, billet_id: str) -> str | None:
        """Why ``billet_id`` does not fit this format, or None when it does."""
        if re.fullmatch(self.regex, billet_id) is None:
            return f"ID {billet_id!r} does not match the format {self.regex!r}"
        if self.check_digit is not None:
            expected = self.expected_check_digit(billet_id)
            if expected is None or billet_id[-1] != expected:
                return f"ID {billet_id!r} fails its {self.check_digit} check digit"
        return None

    def matches(self, billet_id: str) -> bool:
        return self.problem(billet_id) is None
