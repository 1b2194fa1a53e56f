"""The bounded regex subset used for billet ID formats, and a generator of IDs that fit one."""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from billet_studio.annotations.id_format import IdFormat

#: Characters that may stand for themselves in a pattern ('.' only when escaped or in a class).
LITERAL_CHARS = frozenset(string.digits + string.ascii_uppercase + "-/ ")
#: Every character a billet ID may contain.
ID_ALPHABET = LITERAL_CHARS | {"."}
#: Characters that may follow a backslash to stand for themselves.
_ESCAPED_LITERALS = frozenset("-./ ")
_DIGITS = tuple(string.digits)
#: How often :class:`IdGenerator` redraws before it decides a check digit cannot fit.
CHECK_DIGIT_ATTEMPTS = 100

_UNBOUNDED = "IDs need a bounded length"
_CHARSET_HINT = "IDs use digits, A-Z, '-', ' ', '/', '.'"


@dataclass(frozen=True)
class _Chars:
    """One character position: any one of ``chars`` (sorted, distinct)."""

    chars: tuple[str, ...]

    def generate(self, rng: np.random.Generator, out: list[str]) -> None:
        out.append(self.chars[int(rng.integers(len(self.chars)))])

    def lengths(self) -> tuple[int, int]:
        return (1, 1)

    def alphabet(self) -> set[str]:
        return set(self.chars)


@dataclass(frozen=True)
class _Sequence:
    items: tuple[_Node, ...]

    def generate(self, rng: np.random.Generator, out: list[str]) -> None:
        for item in self.items:
            item.generate(rng, out)

    def lengths(self) -> tuple[int, int]:
        bounds = [item.lengths() for item in self.items]
        return (sum(lo for lo, _ in bounds), sum(hi for _, hi in bounds))

    def alphabet(self) -> set[str]:
        return set().union(*(item.alphabet() for item in self.items))


@dataclass(frozen=True)
class _Alternation:
    options: tuple[_Node, ...]

    def generate(self, rng: np.random.Generator, out: list[str]) -> None:
        self.options[int(rng.integers(len(self.options)))].generate(rng, out)

    def lengths(self) -> tuple[int, int]:
        bounds = [option.lengths() for option in self.options]
        return (min(lo for lo, _ in bounds), max(hi for _, hi in bounds))

    def alphabet(self) -> set[str]:
        return set().union(*(option.alphabet() for option in self.options))


@dataclass(frozen=True)
class _Repeat:
    item: _Node
    low: int
    high: int

    def generate(self, rng: np.random.Generator, out: list[str]) -> None:
        for _ in range(int(rng.integers(self.low, self.high + 1))):
            self.item.generate(rng, out)

    def lengths(self) -> tuple[int, int]:
        lo, hi = self.item.lengths()
        return (lo * self.low, hi * self.high)

    def alphabet(self) -> set[str]:
        # An item repeated at most zero times never shows up in an ID.
        return self.item.alphabet() if self.high > 0 else set()


_Node = _Chars | _Sequence | _Alternation | _Repeat


class _Parser:
    """Recursive descent over: alternation := sequence ('|' sequence)*;
    sequence := (atom quantifier?)*; atom := literal | escape | class | group."""

    def __init__(self, regex: str) -> None:
        self.regex = regex
        self.pos = 0

    def fail(self, what: str, why: str, pos: int | None = None) -> ValueError:
        where = self.pos if pos is None else pos
        return ValueError(f"unsupported {what} at position {where} ({why})")

    def peek(self, offset: int = 0) -> str | None:
        index = self.pos + offset
        return self.regex[index] if index < len(self.regex) else None

    def parse(self) -> _Node:
        regex = self.regex
        # Anchors are redundant (formats always match the whole ID), so they are skipped.
        if regex.startswith("^"):
            self.pos = 1
        end = len(regex)
        if end > self.pos and regex.endswith("$") and not regex.endswith("\\$"):
            end -= 1
        self.regex = regex[:end]
        node = self.alternation()
        if self.pos < len(self.regex):  # only a stray ')' stops an alternation early
            raise self.fail("')'", "it closes no group")
        if node.lengths()[1] == 0:
            raise ValueError(f"ID format {regex!r} allows only the empty ID")
        return node

    def alternation(self) -> _Node:
        options = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else _Alternation(tuple(options))

    def sequence(self) -> _Node:
        items: list[_Node] = []
        while (char := self.peek()) is not None and char not in "|)":
            items.append(self.quantified(self.atom()))
        return items[0] if len(items) == 1 else _Sequence(tuple(items))

    def atom(self) -> _Node:
        start, char = self.pos, self.regex[self.pos]
        if char == "(":
            return self.group()
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape(in_class=False)
        if char in "*+":
            raise self.fail(repr(char), _UNBOUNDED)
        if char in "?{":
            raise self.fail(repr(char), "nothing to repeat")
        if char == ".":
            raise self.fail("'.'", "it matches any character; write '\\.' for a literal dot")
        if char in "^$":
            raise self.fail(repr(char), "anchors are only allowed at the start and end")
        if char not in LITERAL_CHARS:
            raise self.fail(f"character {char!r}", _CHARSET_HINT)
        self.pos = start + 1
        return _Chars((char,))

    def group(self) -> _Node:
        start = self.pos
        self.pos += 1
        if self.peek() == "?":
            if self.peek(1) != ":":
                raise self.fail(*_special_group(self.regex[start : start + 4]), pos=start)
            self.pos += 2  # '(?:' groups like '(' without capturing, which we never use
        node = self.alternation()
        if self.peek() != ")":
            raise self.fail("'('", "the group is never closed", pos=start)
        self.pos += 1
        return node

    def escape(self, *, in_class: bool) -> _Chars:
        start = self.pos
        code = self.peek(1)
        if code is None:
            raise self.fail("'\\'", "the pattern ends inside an escape")
        self.pos += 2
        if code == "d":
            return _Chars(_DIGITS)
        if code in _ESCAPED_LITERALS:
            return _Chars((code,))
        construct = "\\" + code
        if code in "123456789":
            raise self.fail(f"backreference {construct!r}", "IDs are generated, not matched",
                            pos=start)
        if code in "DwWsS":
            raise self.fail(repr(construct), "its characters are not all ID characters; "
                            "use a class such as [0-9A-Z]", pos=start)
        if code in "bBAZ":
            raise self.fail(f"anchor {construct!r}", "formats always match the whole ID",
                            pos=start)
        where = " in a class" if in_class else ""
        raise self.fail(f"escape {construct!r}{where}", _CHARSET_HINT, pos=start)

    def char_class(self) -> _Node:
        start = self.pos
        self.pos += 1
        if self.peek() == "^":
            raise self.fail("negated class '[^'", "list the allowed characters instead",
                            pos=start)
        if self.peek() == "]":
            raise self.fail("empty class '[]'", "a class needs at least one character",
                            pos=start)
        chars: set[str] = set()
        while (char := self.peek()) != "]":
            if char is None:
                raise self.fail("'['", "the class is never closed", pos=start)
            item_start = self.pos
            if char == "\\":
                chars.update(self.escape(in_class=True).chars)
                continue
            if char != "." and char not in LITERAL_CHARS:
                raise self.fail(f"character {char!r} in a class", _CHARSET_HINT)
            self.pos += 1
            # A '-' right after '[' or right before ']' is a literal, as in Python's re.
            if self.peek() == "-" and self.peek(1) not in (None, "]"):
                chars.update(self.char_range(char, item_start))
            else:
                chars.add(char)
        self.pos += 1
        return _Chars(tuple(sorted(chars)))

    def char_range(self, first: str, start: int) -> set[str]:
        last = self.peek(1)
        assert last is not None
        text = f"{first}-{last}"
        if last == "\\":
            raise self.fail(f"range ending in an escape at {text!r}", "write the range "
                            "end as a plain character", pos=start)
        if ord(last) < ord(first):
            raise self.fail(f"range {text!r}", "it runs backwards", pos=start)
        span = {chr(code) for code in range(ord(first), ord(last) + 1)}
        if not span <= ID_ALPHABET:
            outside = "".join(sorted(span - ID_ALPHABET))
            raise self.fail(f"range {text!r}", f"it includes {outside!r}; {_CHARSET_HINT}",
                            pos=start)
        self.pos += 2
        return span

    def quantified(self, node: _Node) -> _Node:
        start, char = self.pos, self.peek()
        if char == "?":
            self.pos += 1
            node = _Repeat(node, 0, 1)
        elif char == "{":
            low, high = self.braces()
            node = _Repeat(node, low, high)
        elif char in ("*", "+"):
            raise self.fail(repr(char), _UNBOUNDED)
        else:
            return node
        follow = self.peek()
        if follow is not None and follow in "*+":
            raise self.fail(repr(follow), _UNBOUNDED)
        if follow is not None and follow in "?{":
            raise self.fail(repr(follow), "lazy and stacked quantifiers are not supported; "
                            f"the quantifier starts at position {start}")
        return node

    def braces(self) -> tuple[int, int]:
        start = self.pos
        close = self.regex.find("}", start)
        body = self.regex[start + 1 : close] if close > 0 else ""
        low_text, comma, high_text = body.partition(",")
        valid = (
            close > 0
            and (low_text.isdigit() or (comma and not low_text))
            and (high_text.isdigit() or not high_text)
            and low_text.isascii()
            and high_text.isascii()
        )
        if not valid:
            raise self.fail("quantifier '{'", "write {n}, {m,n} or {,n}")
        if comma and not high_text:
            raise self.fail(repr("{" + body + "}"), _UNBOUNDED)
        low = int(low_text) if low_text else 0
        high = int(high_text) if comma else low
        if high < low:
            raise self.fail(repr("{" + body + "}"), "its minimum exceeds its maximum")
        self.pos = close + 1
        return low, high


def _special_group(opening: str) -> tuple[str, str]:
    """The construct and the reason for refusing a '(?' group, from its first characters."""
    for prefix, name in (("(?<=", "lookbehind"), ("(?<!", "negative lookbehind"),
                         ("(?=", "lookahead"), ("(?!", "negative lookahead"),
                         ("(?P=", "backreference")):
        if opening.startswith(prefix):
            return f"{name} {prefix!r}", "IDs are generated, not matched"
    return f"group {opening[:3]!r}", "only '( )' and '(?: )' groups are supported"


@dataclass(frozen=True)
class IdPattern:
    """A parsed ID format regex that can say which IDs it allows and draw them at random."""

    regex: str
    root: _Node

    @classmethod
    def parse(cls, regex: str) -> IdPattern:
        """Parse ``regex``; a construct outside the subset raises ValueError naming its position.

        Supported: literals (digits, A-Z, '-', ' ', '/'), escapes (``\\d \\- \\. \\/``),
        classes with ranges and lists, ``? {n} {m,n} {,n}``, groups ``( )`` / ``(?: )``,
        alternation ``|``, and a leading ``^`` / trailing ``$`` (ignored).
        """
        return cls(regex, _Parser(regex).parse())

    def generate(self, rng: np.random.Generator) -> str:
        """One ID, choosing alternatives, repeat counts and characters uniformly."""
        out: list[str] = []
        self.root.generate(rng, out)
        return "".join(out)

    def lengths(self) -> tuple[int, int]:
        """The shortest and longest ID the pattern allows."""
        return self.root.lengths()

    def alphabet(self) -> set[str]:
        """Every character that can appear in an ID of this pattern."""
        return self.root.alphabet()


class IdGenerator:
    """Draws random IDs that satisfy an :class:`IdFormat`, check digit included."""

    def __init__(self, id_format: IdFormat) -> None:
        self.id_format = id_format
        self.pattern = IdPattern.parse(id_format.regex)

    def generate(self, rng: np.random.Generator) -> str:
        """One valid ID; with a check digit the pattern's last character becomes the check.

        Draws again when the check digit does not fit the pattern (e.g. mod11's 'X' where the
        pattern wants a digit); raises ValueError when it never fits.
        """
        if self.id_format.check_digit is None:
            return self.pattern.generate(rng)
        problem = "the pattern produced no ID"
        for _ in range(CHECK_DIGIT_ATTEMPTS):
            candidate = self.pattern.generate(rng)
            check = self.id_format.expected_check_digit(candidate)
            if check is None:
                problem = (f"{candidate!r} has no check digit (no digit or letter comes "
                           "before its last character)")
                continue
            candidate = candidate[:-1] + check
            found = self.id_format.problem(candidate)
            if found is None:
                return candidate
            problem = found
        raise ValueError(
            f"ID format {self.id_format.regex!r} cannot hold a {self.id_format.check_digit} "
            f"check digit: {CHECK_DIGIT_ATTEMPTS} draws failed, the last because {problem}. "
            "The last character must allow the check digits (0-9, and 'X' for mod11) and "
            "the characters before it must be digits or A-Z."
        )
