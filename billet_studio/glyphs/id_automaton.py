"""An ID format as a finite automaton over a reader's classes, for decoding reads.

The format's regex (the subset :class:`IdPattern` parses) becomes an NFA and then a DFA;
a check-digit rule is folded in as a residue automaton, so "matches the regex and the check
digit fits" is one table lookup per character. A list of expected IDs becomes a trie.

Separators in a pattern ('-', '/', '.', ' ': not stamped glyphs) that the reader has no
class for are read as empty: the automaton skips them, and :func:`reading_key` drops them
from true IDs before comparing. A digit or letter the reader has no class for can never be
read, so paths through it die.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from billet_studio.annotations.id_format import IdFormat
from billet_studio.glyphs.id_patterns import (
    IdPattern,
    _Alternation,
    _Chars,
    _Node,
    _Repeat,
    _Sequence,
)

DEAD = -1


@dataclass(frozen=True, eq=False)
class IdAutomaton:
    """A DFA over ``alphabet`` (class names): ``transitions[state, class]`` is the next
    state or -1, ``accepting[state]`` says whether an ID may end there."""

    alphabet: tuple[str, ...]
    transitions: np.ndarray
    accepting: np.ndarray
    start: int = 0

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @cached_property
    def class_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.alphabet)}

    @cached_property
    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """(transitions, accepting) with an absorbing dead state as the last state, for
        running many strings at once with plain indexing."""
        dead = self.n_states
        table = np.where(self.transitions < 0, dead, self.transitions)
        table = np.vstack([table, np.full((1, len(self.alphabet)), dead)]).astype(np.int64)
        return table, np.append(self.accepting, False)

    def accepts_codes(self, codes: np.ndarray) -> np.ndarray:
        """Which rows of ``codes`` (strings x positions, class indices) it accepts."""
        table, accepting = self.padded
        states = np.full(len(codes), self.start, dtype=np.int64)
        for column in np.asarray(codes, dtype=np.int64).T:
            states = table[states, column]
        return accepting[states]

    @cached_property
    def shortest(self) -> int | None:
        """The length of the shortest accepted ID (None: it accepts nothing)."""
        table, accepting = self.padded
        states, seen = {self.start}, {self.start}
        for length in range(self.n_states + 1):
            if any(accepting[s] for s in states):
                return length
            states = {int(t) for s in states for t in table[s]} - seen - {self.n_states}
            seen |= states
            if not states:
                return None
        return None

    @cached_property
    def moves(self) -> list[list[tuple[int, int]]]:
        """Per state, its (class, next state) pairs that do not die."""
        return [[(c, t) for c, t in enumerate(row) if t >= 0] for row in self.rows]

    @cached_property
    def rows(self) -> list[list[int]]:
        """The transition table as Python lists (fast to index one entry at a time)."""
        return self.transitions.tolist()

    def accepts(self, text: str | Sequence[str]) -> bool:
        """Whether the sequence of class names ``text`` is a whole ID of this automaton."""
        index = self.class_index
        state = self.start
        for char in text:
            code = index.get(char)
            if code is None:
                return False
            state = int(self.transitions[state, code])
            if state == DEAD:
                return False
        return bool(self.accepting[state])

    @classmethod
    def from_format(cls, id_format: IdFormat, alphabet: Sequence[str]) -> IdAutomaton:
        """The automaton of a format (regex and check digit), cached per format."""
        return _format_automaton(id_format.regex, id_format.check_digit, tuple(alphabet))

    @classmethod
    def anything(cls, alphabet: Sequence[str]) -> IdAutomaton:
        """Accepts every sequence of classes: reading without a format prior."""
        alphabet = tuple(alphabet)
        return cls(alphabet, np.zeros((1, len(alphabet)), dtype=np.int32),
                   np.ones(1, dtype=bool))

    @classmethod
    def from_ids(cls, ids: Iterable[str], alphabet: Sequence[str]) -> IdAutomaton:
        """A trie of expected IDs as the reader reads them (:func:`reading_key`); an ID
        with a digit or letter the reader has no class for cannot be read and is left out."""
        alphabet = tuple(alphabet)
        index = {name: i for i, name in enumerate(alphabet)}
        rows: list[list[int]] = [[DEAD] * len(alphabet)]
        accepting = [False]
        for billet_id in ids:
            key = reading_key(billet_id, alphabet)
            if any(char not in index for char in key):
                continue
            state = 0
            for char in key:
                code = index[char]
                if rows[state][code] == DEAD:
                    rows[state][code] = len(rows)
                    rows.append([DEAD] * len(alphabet))
                    accepting.append(False)
                state = rows[state][code]
            if state:
                accepting[state] = True
        return cls(alphabet, np.array(rows, dtype=np.int32).reshape(-1, len(alphabet)),
                   np.array(accepting, dtype=bool))


def is_separator(char: str) -> bool:
    """Characters other than digits and A-Z ('-', '/', '.', ' ') are not stamped glyphs."""
    return not (char.isascii() and char.isalnum())


def reading_key(billet_id: str, alphabet: Iterable[str]) -> str:
    """``billet_id`` as a reader can read it: separators the reader has no class for are
    dropped (a character it has no class for otherwise stays, and can never be read)."""
    allowed = set(alphabet)
    return "".join(c for c in billet_id if c in allowed or not is_separator(c))


# --- regex -> NFA -> DFA -------------------------------------------------------------

class _Nfa:
    """Thompson construction: ``edges[state]`` maps a character (or None for empty) to
    target states."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[str | None, int]]] = []

    def state(self) -> int:
        self.edges.append([])
        return len(self.edges) - 1

    def build(self, node: _Node, start: int) -> int:
        """Add ``node`` reading from ``start``; return the state where it ends."""
        if isinstance(node, _Chars):
            end = self.state()
            self.edges[start].extend((char, end) for char in node.chars)
            return end
        if isinstance(node, _Sequence):
            for item in node.items:
                start = self.build(item, start)
            return start
        if isinstance(node, _Alternation):
            end = self.state()
            for option in node.options:
                self.edges[self.build(option, start)].append((None, end))
            return end
        assert isinstance(node, _Repeat)
        for _ in range(node.low):
            start = self.build(node.item, start)
        end = self.state()
        self.edges[start].append((None, end))
        for _ in range(node.high - node.low):
            start = self.build(node.item, start)
            self.edges[start].append((None, end))
        return end

    def closure(self, states: Iterable[int], alphabet: set[str]) -> frozenset[int]:
        """States reachable by empty edges and by separators outside ``alphabet``."""
        seen = set(states)
        stack = list(seen)
        while stack:
            for char, target in self.edges[stack.pop()]:
                empty = char is None or (char not in alphabet and is_separator(char))
                if empty and target not in seen:
                    seen.add(target)
                    stack.append(target)
        return frozenset(seen)


def regex_automaton(regex: str, alphabet: Sequence[str]) -> IdAutomaton:
    """The DFA of an ID format regex over ``alphabet`` (subset construction)."""
    alphabet = tuple(alphabet)
    allowed = set(alphabet)
    nfa = _Nfa()
    start = nfa.state()
    final = nfa.build(IdPattern.parse(regex).root, start)
    first = nfa.closure([start], allowed)
    ids = {first: 0}
    queue = [first]
    rows: list[list[int]] = []
    while len(rows) < len(queue):
        current = queue[len(rows)]
        row = []
        for char in alphabet:
            targets = [t for s in current for c, t in nfa.edges[s] if c == char]
            if not targets:
                row.append(DEAD)
                continue
            subset = nfa.closure(targets, allowed)
            if subset not in ids:
                ids[subset] = len(queue)
                queue.append(subset)
            row.append(ids[subset])
        rows.append(row)
    accepting = np.array([final in subset for subset in queue], dtype=bool)
    return IdAutomaton(alphabet, np.array(rows, dtype=np.int32).reshape(-1, len(alphabet)),
                       accepting)


# --- check digits ----------------------------------------------------------------------

def _char_digits(char: str) -> str | None:
    """The decimal digits a character stands for in a check sum (A = 10 ... Z = 35)."""
    if len(char) == 1 and char.isdigit():
        return char
    if len(char) == 1 and "A" <= char <= "Z":
        return str(ord(char) - ord("A") + 10)
    return None


def _luhn_step(residue: int, digit: int) -> int:
    """Luhn keeps two sums modulo 10, with the last digit so far doubled (a) or not (b);
    appending a digit d gives (b + double(d), a + d). The residue is 10a + b."""
    a, b = divmod(residue, 10)
    doubled = digit * 2 - 9 if digit >= 5 else digit * 2
    return ((b + doubled) % 10) * 10 + (a + digit) % 10


def _residue_rule(rule: str, alphabet: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(next residue per residue and class, check class per residue or -1); the start
    residue is 0 and the last row ("invalid") absorbs a character with no check value.

    Luhn: two running sums (see :func:`_luhn_step`), check (10 - a) mod 10. MOD 11-2:
    ISO 7064's running total t -> 2 (t + value) mod 11, check (12 - t) mod 11 ('X' = 10).
    """
    luhn = rule == "luhn"
    n = 100 if luhn else 11
    invalid = n
    table = np.full((n + 1, len(alphabet)), invalid, dtype=np.int32)
    for code, char in enumerate(alphabet):
        digits = _char_digits(char)
        if digits is None:
            continue
        for residue in range(n):
            if luhn:
                value = residue
                for digit in digits:  # a letter counts as its two digits (A = 10)
                    value = _luhn_step(value, int(digit))
            else:
                value = ((residue + int(digits)) * 2) % 11
            table[residue, code] = value
    index = {name: i for i, name in enumerate(alphabet)}

    def check(residue: int) -> str:
        if luhn:
            return str((10 - residue // 10) % 10)
        value = (12 - residue) % 11
        return "X" if value == 10 else str(value)

    checks = np.array([index.get(check(r), DEAD) for r in range(n)] + [DEAD], dtype=np.int32)
    return table, checks


def with_check_digit(base: IdAutomaton, rule: str) -> IdAutomaton:
    """``base`` restricted to IDs whose last character is the ``rule`` check digit over the
    (at least one) characters before it: the reachable product of (base state, residue,
    last-was-check, started)."""
    residues, checks = _residue_rule(rule, base.alphabet)
    n_classes = len(base.alphabet)
    start = (base.start, 0, False, False)
    ids = {start: 0}
    queue = [start]
    rows: list[list[int]] = []
    while len(rows) < len(queue):
        state, residue, _, started = queue[len(rows)]
        row = []
        for code in range(n_classes):
            target = int(base.transitions[state, code])
            if target == DEAD:
                row.append(DEAD)
                continue
            ok = started and bool(checks[residue] == code)
            key = (target, int(residues[residue, code]), ok, True)
            if key not in ids:
                ids[key] = len(queue)
                queue.append(key)
            row.append(ids[key])
        rows.append(row)
    accepting = np.array([bool(base.accepting[s]) and ok for s, _, ok, _ in queue],
                         dtype=bool)
    return IdAutomaton(base.alphabet, np.array(rows, dtype=np.int32).reshape(-1, n_classes),
                       accepting)


@lru_cache(maxsize=16)
def _format_automaton(regex: str, check_digit: str | None,
                      alphabet: tuple[str, ...]) -> IdAutomaton:
    automaton = regex_automaton(regex, alphabet)
    if check_digit is not None:
        automaton = with_check_digit(automaton, check_digit)
    return automaton
