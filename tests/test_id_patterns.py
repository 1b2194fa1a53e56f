"""ID formats: the supported regex subset, its exact refusals, and generated IDs."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from billet_studio.annotations.id_format import IdFormat
from billet_studio.glyphs.id_patterns import IdGenerator, IdPattern

DIGITS = set(string.digits)
LETTERS = set(string.ascii_uppercase)


@pytest.mark.parametrize(
    ("regex", "lengths", "alphabet"),
    [
        ("AB12", (4, 4), set("AB12")),
        (r"12\-3\.4/5 6", (10, 10), set("123456-./ ")),
        (r"\d", (1, 1), DIGITS),
        ("[A-Z]", (1, 1), LETTERS),
        ("[0-9A-F]", (1, 1), DIGITS | set("ABCDEF")),
        ("[ABC]", (1, 1), set("ABC")),
        (r"[A-CX\d.\-]", (1, 1), set("ABCX.-") | DIGITS),
        ("[-A]", (1, 1), {"-", "A"}),
        ("[A-]", (1, 1), {"-", "A"}),
        ("A{3}", (3, 3), {"A"}),
        ("A{2,5}", (2, 5), {"A"}),
        ("A{,2}B", (1, 3), {"A", "B"}),
        ("A?B", (1, 2), {"A", "B"}),
        ("A{0}B", (1, 1), {"B"}),
        ("(AB){2}", (4, 4), {"A", "B"}),
        ("(?:AB)?C", (1, 3), {"A", "B", "C"}),
        ("(A|BC)D", (2, 3), set("ABCD")),
        ("A|BCD", (1, 3), set("ABCD")),
        (r"(\d{6}|\d{7})[A-Z]\d{4}", (11, 12), DIGITS | LETTERS),
        (r"((A|B)C{1,2}|D)?E", (1, 4), set("ABCDE")),
        (r"^\d{6}[A-Z]\d{4}$", (11, 11), DIGITS | LETTERS),
    ],
)
def test_parse_supported_constructs(regex: str, lengths: tuple[int, int], alphabet: set[str]):
    pattern = IdPattern.parse(regex)
    assert pattern.lengths() == lengths
    assert pattern.alphabet() == alphabet


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        (r"\d{5}*", "unsupported '*' at position 5 (IDs need a bounded length)"),
        (r"\d+", "unsupported '+' at position 2 (IDs need a bounded length)"),
        (r"A*", "unsupported '*' at position 1 (IDs need a bounded length)"),
        (r"\d{3,}", "unsupported '{3,}' at position 2 (IDs need a bounded length)"),
        (r"\w{4}", r"unsupported '\\w' at position 0 (its characters are not all ID "
                   "characters; use a class such as [0-9A-Z])"),
        (r"A.B", "unsupported '.' at position 1 (it matches any character; "
                 r"write '\.' for a literal dot)"),
        (r"A^B", "unsupported '^' at position 1 (anchors are only allowed at the start and end)"),
        (r"A$B", "unsupported '$' at position 1 (anchors are only allowed at the start and end)"),
        (r"\bA", r"unsupported anchor '\\b' at position 0 (formats always match the whole ID)"),
        ("A(?=B)B", "unsupported lookahead '(?=' at position 1 (IDs are generated, not matched)"),
        ("A(?!B)C", "unsupported negative lookahead '(?!' at position 1 "
                    "(IDs are generated, not matched)"),
        ("(?<=A)B", "unsupported lookbehind '(?<=' at position 0 "
                    "(IDs are generated, not matched)"),
        ("(?<!A)B", "unsupported negative lookbehind '(?<!' at position 0 "
                    "(IDs are generated, not matched)"),
        (r"(\d)\1", r"unsupported backreference '\\1' at position 4 "
                    "(IDs are generated, not matched)"),
        ("(?P<n>A)", "unsupported group '(?P' at position 0 "
                     "(only '( )' and '(?: )' groups are supported)"),
        ("[^A]", "unsupported negated class '[^' at position 0 "
                 "(list the allowed characters instead)"),
        ("A[]", "unsupported empty class '[]' at position 1 (a class needs at least one "
                "character)"),
        ("[AB", "unsupported '[' at position 0 (the class is never closed)"),
        ("[0-Z]", "unsupported range '0-Z' at position 1 (it includes ':;<=>?@'; "
                  "IDs use digits, A-Z, '-', ' ', '/', '.')"),
        ("[Z-A]", "unsupported range 'Z-A' at position 1 (it runs backwards)"),
        ("[a]", "unsupported character 'a' in a class at position 1 "
                "(IDs use digits, A-Z, '-', ' ', '/', '.')"),
        ("A_1", "unsupported character '_' at position 1 "
                "(IDs use digits, A-Z, '-', ' ', '/', '.')"),
        ("(AB", "unsupported '(' at position 0 (the group is never closed)"),
        ("AB)", "unsupported ')' at position 2 (it closes no group)"),
        ("?A", "unsupported '?' at position 0 (nothing to repeat)"),
        ("{2}A", "unsupported '{' at position 0 (nothing to repeat)"),
        ("A{x}", "unsupported quantifier '{' at position 1 (write {n}, {m,n} or {,n})"),
        ("A{3,2}", "unsupported '{3,2}' at position 1 (its minimum exceeds its maximum)"),
        ("A{2}?", "unsupported '?' at position 4 (lazy and stacked quantifiers are not "
                  "supported; the quantifier starts at position 1)"),
        (r"\x41", r"unsupported escape '\\x' at position 0 (IDs use digits, A-Z, "),
        ("A\\", r"unsupported '\' at position 1 (the pattern ends inside an escape)"),
        ("^$", "ID format '^$' allows only the empty ID"),
    ],
)
def test_unsupported_construct_names_position_and_reason(regex: str, message: str):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        IdPattern.parse(regex)


PATTERNS = [
    r"\d{6}[A-Z]\d{4}",
    r"(\d{6}|\d{7})[A-Z]\d{4}",
    r"[A-C]{2}-\d{3,5}(/[0-9A-F]{2})?",
    r"^(AB|C(D|E){1,3})? \d\.\d{,2}$",
    r"[0-9A-Z]{10,12}",
]


@pytest.mark.parametrize("regex", PATTERNS)
def test_generated_ids_fullmatch_and_span_lengths(regex: str):
    pattern = IdPattern.parse(regex)
    rng = np.random.default_rng(7)
    ids = [pattern.generate(rng) for _ in range(500)]
    assert all(re.fullmatch(regex, billet_id) for billet_id in ids)
    lengths = [len(billet_id) for billet_id in ids]
    assert (min(lengths), max(lengths)) == pattern.lengths()


def test_generated_ids_cover_every_allowed_character():
    pattern = IdPattern.parse(r"\d{6}[A-Z]\d{4}")
    rng = np.random.default_rng(3)
    ids = [pattern.generate(rng) for _ in range(500)]
    assert {billet_id[6] for billet_id in ids} == LETTERS
    assert set("".join(ids)) == pattern.alphabet()


def test_alternatives_and_counts_are_drawn_uniformly():
    pattern = IdPattern.parse("(A|B|C)D{0,3}")
    rng = np.random.default_rng(5)
    ids = [pattern.generate(rng) for _ in range(3000)]
    first = np.array([[i[0] for i in ids].count(c) for c in "ABC"]) / len(ids)
    counts = np.bincount([len(billet_id) - 1 for billet_id in ids], minlength=4) / len(ids)
    assert np.allclose(first, 1 / 3, atol=0.04)
    assert np.allclose(counts, 1 / 4, atol=0.04)


def test_same_seed_gives_same_ids():
    generator = IdGenerator(IdFormat(r"(\d{6}|\d{7})[A-Z]\d{4}", check_digit="mod11"))

    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [generator.generate(rng) for _ in range(50)]

    assert draw(11) == draw(11)
    assert draw(11) != draw(12)


@pytest.mark.parametrize("rule", ["luhn", "mod11"])
@pytest.mark.parametrize("regex", [r"\d{6}[A-Z]\d{4}", r"[A-Z]{2}\d{8}[0-9X]", r"\d{10}"])
def test_check_digit_ids_always_match_their_format(rule: str, regex: str):
    id_format = IdFormat(regex, check_digit=rule)
    generator = IdGenerator(id_format)
    rng = np.random.default_rng(1)
    ids = [generator.generate(rng) for _ in range(500)]
    assert all(id_format.matches(billet_id) for billet_id in ids)
    if rule == "mod11" and regex.endswith("[0-9X]"):
        assert any(billet_id.endswith("X") for billet_id in ids)


def test_format_without_check_digit_generates_pattern_ids():
    id_format = IdFormat(r"\d{3}-[A-Z]{2}")
    rng = np.random.default_rng(2)
    assert all(id_format.matches(IdGenerator(id_format).generate(rng)) for _ in range(100))


@pytest.mark.parametrize(
    ("regex", "rule"),
    [
        (r"\d{10}[A-Z]", "luhn"),  # the last position holds no digit
        (r"\d{10}[A-W]", "mod11"),  # letters fit, but mod11 gives only digits or 'X'
        (r"\d{5}-", "luhn"),  # a separator cannot be the check digit
    ],
)
def test_pattern_that_cannot_hold_the_check_digit_raises(regex: str, rule: str):
    generator = IdGenerator(IdFormat(regex, check_digit=rule))
    with pytest.raises(ValueError, match=f"cannot hold a {rule} check digit"):
        generator.generate(np.random.default_rng(0))
