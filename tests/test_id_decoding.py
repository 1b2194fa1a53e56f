"""ID reading: format automata, slots and reading order, and the constrained decoder."""

from __future__ import annotations

import itertools
import math
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billet_studio.annotations.id_format import IdFormat
from billet_studio.evaluation import DecodeConfig, group_slots, read_slots
from billet_studio.evaluation.slots import reading_order
from billet_studio.glyphs.id_automaton import IdAutomaton, reading_key
from billet_studio.glyphs.id_patterns import IdGenerator

ALPHABET = tuple(string.digits + string.ascii_uppercase)
INDEX = {c: i for i, c in enumerate(ALPHABET)}


@pytest.mark.parametrize(("regex", "check"), [
    (r"\d{6}[A-Z]\d{4,5}", None),
    (r"\d{6}[A-Z]\d{4}", "luhn"),
    (r"[A-Z]{2}\d{6}[0-9X]", "mod11"),
    (r"(A|BC)?\d{2,3}", None),
    (r"\d{3}-\d{3}", "luhn"),  # separators are not read and do not count in the check
    (r"\d{0,2}", "mod11"),  # a check digit needs at least one character before it
])
def test_format_automaton_accepts_exactly_what_the_format_matches(regex, check):
    id_format = IdFormat(regex, check)
    automaton = IdAutomaton.from_format(id_format, ALPHABET)
    generator = IdGenerator(id_format)
    rng = np.random.default_rng(0)
    accepted = 0
    for _ in range(1500):
        text = generator.generate(rng) if rng.random() < 0.9 else "".join(
            ALPHABET[int(i)] for i in rng.integers(0, 12, int(rng.integers(0, 4))))
        if text and rng.random() < 0.6:  # a random substitution, usually breaking the ID
            i = int(rng.integers(len(text)))
            text = text[:i] + ALPHABET[int(rng.integers(36))] + text[i + 1:]
        if rng.random() < 0.1:
            text = text[:-1]
        accepted += id_format.matches(text)
        assert automaton.accepts(reading_key(text, ALPHABET)) == id_format.matches(text), text
    assert 100 < accepted < 1400  # both outcomes were exercised


def test_separators_are_not_read_and_expected_ids_form_a_trie():
    automaton = IdAutomaton.from_format(IdFormat(r"\d{2}-\d{2}"), ALPHABET)
    assert automaton.accepts("1234") and not automaton.accepts("12-34")
    assert reading_key("12-34", ALPHABET) == "1234"
    trie = IdAutomaton.from_ids(["123456A7890", "123456A7891"], ALPHABET)
    assert trie.accepts("123456A7891") and not trie.accepts("123456A7892")
    assert not trie.accepts("123456A789")


def one_hot_slots(text: str, confidence: float = 0.9) -> np.ndarray:
    scores = np.full((len(text), len(ALPHABET)), 0.001)
    scores[np.arange(len(text)), [INDEX[c] for c in text]] = confidence
    return scores


LUHN = IdFormat(r"\d{6}[A-Z]\d{4}", "luhn")


def test_check_digit_overrules_a_slots_best_label():
    true_id = IdGenerator(LUHN).generate(np.random.default_rng(3))
    automaton = IdAutomaton.from_format(LUHN, ALPHABET)
    # Slot 2 holds two overlapping detections: a wrong digit (0.6) beats the right one.
    wrong = str((int(true_id[2]) + 3) % 10)
    boxes, labels, scores = [], [], []
    for k, char in enumerate(true_id):
        box = [k * 20.0, 0.0, k * 20.0 + 15, 30.0]
        if k == 2:
            boxes += [box, [box[0] + 1, 0.0, box[2] + 1, 30.0]]
            labels += [INDEX[wrong], INDEX[char]]
            scores += [0.6, 0.35]
        else:
            boxes.append(box)
            labels.append(INDEX[char])
            scores.append(0.9)
    slots = group_slots(np.array(boxes), np.array(labels), np.array(scores), len(ALPHABET))
    assert len(slots) == 11
    read = read_slots(slots.scores, automaton)
    assert read.raw == true_id[:2] + wrong + true_id[3:]
    assert not LUHN.matches(read.raw)
    assert read.constrained == true_id
    assert read.constrained_score < read.raw_score


def test_regex_turns_a_digit_into_the_letter_it_must_be():
    automaton = IdAutomaton.from_format(IdFormat(r"\d{6}[A-Z]\d{4}"), ALPHABET)
    scores = one_hot_slots("1234568" + "7890")
    scores[6, INDEX["B"]] = 0.2  # the reader's second guess for the '8'
    read = read_slots(scores, automaton)
    assert (read.raw, read.constrained) == ("12345687890", "123456B7890")
    assert not read.needs_review


def test_a_weak_extra_slot_is_skipped():
    automaton = IdAutomaton.from_format(IdFormat(r"\d{6}[A-Z]\d{4}"), ALPHABET)
    scores = one_hot_slots("123456A7890")
    weak = np.full((1, len(ALPHABET)), 0.001)
    weak[0, INDEX["4"]] = 0.3
    read = read_slots(np.insert(scores, 3, weak, axis=0), automaton)
    assert read.constrained == "123456A7890" and read.skipped == (3,)


def test_a_missed_digit_is_filled_by_the_check_digit_where_the_layout_has_a_gap():
    true_id = IdGenerator(LUHN).generate(np.random.default_rng(5))
    automaton = IdAutomaton.from_format(LUHN, ALPHABET)
    scores = one_hot_slots(true_id[:4] + true_id[5:])
    gaps = np.zeros(11, dtype=bool)
    gaps[4] = True  # the only wide gap between neighbours
    read = read_slots(scores, automaton, gaps=gaps)
    assert read.constrained == true_id
    assert read.inserted == 1 and read.needs_review  # a guessed character: a person looks


def test_a_weak_slot_is_dropped_even_when_the_raw_read_has_the_right_length():
    automaton = IdAutomaton.from_format(IdFormat(r"\d{3}"), ALPHABET)
    scores = one_hot_slots("1234")
    scores[3] = 0.001
    scores[3, INDEX["4"]] = 0.05  # weaker than "no character here"
    read = read_slots(scores, automaton)
    assert read.constrained == "123" and read.skipped == (3,)
    assert read.constrained_score > read.raw_score
    anything = read_slots(scores, IdAutomaton.anything(ALPHABET))
    assert anything.constrained == "123"


def test_too_few_slots_for_any_id_needs_review():
    automaton = IdAutomaton.from_format(IdFormat(r"\d{6}[A-Z]\d{4}"), ALPHABET)
    read = read_slots(one_hot_slots("123456A78"), automaton)
    assert read.constrained is None and read.needs_review
    assert math.isinf(read.constrained_score)


def test_slots_gaps_follow_the_layout():
    boxes = np.array([[0, 0, 10, 20], [15, 0, 25, 20], [45, 0, 55, 20], [60, 0, 70, 20],
                      [0, 40, 10, 60], [15, 40, 25, 60]], dtype=float)
    slots = group_slots(boxes, np.zeros(6, dtype=int), np.full(6, 0.9), 36)
    assert slots.lines.tolist() == [0, 0, 0, 0, 1, 1]
    assert slots.gaps().tolist() == [True, False, True, False, True, False, True]


def test_reading_order_splits_lines_by_centre_gap():
    # Two lines, given shuffled; a slight tilt within a line does not split it.
    boxes = np.array([[40, 52, 50, 72], [0, 0, 10, 20], [20, 2, 30, 22], [0, 50, 10, 70],
                      [40, 4, 50, 24]], dtype=float)
    order, lines = reading_order(boxes)
    assert order.tolist() == [1, 2, 4, 3, 0]
    assert lines.tolist() == [0, 0, 0, 1, 1]


# --- the pruned search against brute force ---------------------------------------------

SMALL = ("0", "1", "2", "A", "B")


def alignment_score(text: str, emit: np.ndarray, skip: np.ndarray, gaps: np.ndarray,
                    config: DecodeConfig) -> float:
    """Best score of reading ``text`` from the slots: an independent edit-distance DP."""
    n, m = len(emit), len(text)
    insert = math.log(1 / emit.shape[1]) - config.insert_penalty
    best = np.full((n + 1, m + 1, config.max_insertions + 1), -np.inf)
    best[0, 0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            for k in range(config.max_insertions + 1):
                value = best[i, j, k]
                if not np.isfinite(value):
                    continue
                if i < n and j < m:
                    best[i + 1, j + 1, k] = max(best[i + 1, j + 1, k],
                                                value + emit[i, SMALL.index(text[j])])
                if i < n:
                    best[i + 1, j, k] = max(best[i + 1, j, k], value + skip[i])
                if j < m and k < config.max_insertions and gaps[i]:
                    best[i, j + 1, k + 1] = max(best[i, j + 1, k + 1], value + insert)
    return float(best[n, m].max())


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1), st.sampled_from([None, "luhn", "mod11"]))
def test_decoder_finds_the_best_read_brute_force_finds(n_slots, seed, check):
    # Some slots are weak (skipping them beats their best class); 0-2 insertions per read.
    rng = np.random.default_rng(seed)
    id_format = IdFormat(r"[0-2]{1,2}[AB]?[0-2]{1,2}", check)
    automaton = IdAutomaton.from_format(id_format, SMALL)
    scores = rng.dirichlet(np.full(len(SMALL), 0.4), size=n_slots)
    scores *= np.where(rng.random((n_slots, 1)) < 0.3, rng.uniform(0.02, 0.3, (n_slots, 1)), 1)
    gaps = rng.random(n_slots + 1) < 0.6
    config = DecodeConfig(max_insertions=int(rng.integers(0, 3)))
    read = read_slots(scores, automaton, config, gaps)
    emit = np.log(np.clip(scores, config.floor, 1))
    skip = np.log(np.clip(1 - scores.max(axis=1), config.floor, 1)) - config.skip_penalty
    brute = -math.inf
    for length in range(1, 6):
        for chars in itertools.product(SMALL, repeat=length):
            text = "".join(chars)
            if automaton.accepts(text):
                brute = max(brute, alignment_score(text, emit, skip, gaps, config))
    if brute < np.maximum(emit.max(axis=1), skip).sum() - config.max_loss:
        assert read.constrained is None
    else:
        assert read.constrained is not None and automaton.accepts(read.constrained)
        assert read.constrained_score == pytest.approx(brute, abs=1e-9)
        assert alignment_score(read.constrained, emit, skip, gaps, config) == pytest.approx(
            brute, abs=1e-9)
