"""Reading a billet ID from character slots: the raw read, and the best read the ID format
allows (Viterbi over slot, automaton state and insertions used).

Each slot either emits a class c (log of its score for c), or is skipped as a spurious
detection (log of one minus its best score, less ``skip_penalty``). Between slots the
decoder may insert up to ``max_insertions`` characters that no slot shows (a digit the
detector missed; a check digit can pin it down), each at log(1 / classes) less
``insert_penalty``. The automaton carries the regex, the check digit or the expected IDs,
so the best path is the most likely ID that fits them.

The search is exact but pruned. Every move has a "loss": a slot's best move (its best class,
or skipping it when it is that weak) less the move's score; an insertion's loss is its
cost. A path scores the sum of the best moves less its total loss. A Viterbi pass that
drops every state whose loss so far exceeds L finds the best path whenever that path's loss
is at most L. The best read one edit away from the raw read bounds L at once for most
misreads; otherwise L grows in steps (iterative deepening) up to ``max_loss``. Most
misreads take a few states per slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from billet_studio.glyphs.id_automaton import IdAutomaton

#: Total-loss limits tried in turn (iterative deepening) before the unlimited search.
_LOSS_STEPS = (4.0, 8.0, 12.0, 18.0, 27.0)
_KEEP, _EMIT, _SKIP, _INSERT = range(4)


@dataclass(frozen=True)
class DecodeConfig:
    """Penalties are in nats (natural-log units of the slot scores)."""

    skip_penalty: float = 2.0
    insert_penalty: float = 3.0
    max_insertions: int = 1
    #: Reads scoring this far below the raw read are not looked for: no ID fits.
    max_loss: float = 30.0
    #: A constrained read that scores this far below the raw read needs a person's look.
    review_margin: float = 4.0
    #: Scores are clipped to [floor, 1] before taking logs.
    floor: float = 1e-4


@dataclass(frozen=True)
class IdRead:
    """A read: ``raw`` (each slot's best class, in reading order) and ``constrained`` (the
    best ID the format allows; None when none fits), their log-scores, the slots the
    decoder dropped, how many characters it inserted, and whether a person should look."""

    raw: str
    constrained: str | None
    raw_score: float
    constrained_score: float
    skipped: tuple[int, ...] = ()
    inserted: int = 0
    needs_review: bool = False


def slot_log_scores(slot_scores: np.ndarray, n_classes: int, config: DecodeConfig
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(log score per slot and class, best class, its log score, the log score of
    skipping the slot) for slots given as score vectors (N, classes)."""
    scores = np.asarray(slot_scores, dtype=np.float64).reshape(-1, n_classes)
    emit = np.log(np.clip(scores, config.floor, 1.0))
    best = np.argmax(emit, axis=1) if len(emit) else np.zeros(0, dtype=np.int64)
    best_emit = emit[np.arange(len(emit)), best]
    skip = np.log(np.clip(1.0 - scores.max(axis=1, initial=0.0), config.floor, 1.0))
    return emit, best, best_emit, skip - config.skip_penalty


def read_slots(slot_scores: np.ndarray, automaton: IdAutomaton,
               config: DecodeConfig = DecodeConfig(), gaps: np.ndarray | None = None
               ) -> IdRead:
    """Read one billet from its slots' class score vectors (slots in reading order).

    ``gaps[i]`` says whether a missed character may sit before slot i (``gaps[n]``: after
    the last); by default anywhere. :meth:`Slots.gaps` finds them from the layout.
    """
    alphabet = automaton.alphabet
    emit, best, best_emit, skip = slot_log_scores(slot_scores, len(alphabet), config)
    raw = "".join(alphabet[c] for c in best)
    raw_score = float(best_emit.sum())
    # Every path scores at most the raw one (each slot emits at most its best score and
    # insertions only cost), so a raw read the format accepts is the decoder's answer.
    if automaton.accepts(raw) and bool(np.all(best_emit >= skip)):
        return IdRead(raw, raw, raw_score, raw_score)
    if gaps is None:
        gaps = np.ones(len(emit) + 1, dtype=bool)
    chars, score, skipped, inserted = _search(emit, best_emit, skip, gaps, automaton, config)
    if chars is None:
        return IdRead(raw, None, raw_score, -math.inf, needs_review=True)
    constrained = "".join(alphabet[c] for c in chars)
    review = inserted > 0 or score < raw_score - config.review_margin
    return IdRead(raw, constrained, raw_score, score, skipped, inserted, review)


def _search(emit: np.ndarray, best_emit: np.ndarray, skip: np.ndarray, gaps: np.ndarray,
            automaton: IdAutomaton, config: DecodeConfig
            ) -> tuple[list[int] | None, float, tuple[int, ...], int]:
    """The best accepted path, by loss-limited searches (see the module docstring)."""
    shortest = automaton.shortest
    if shortest is None or len(emit) + config.max_insertions < shortest:
        return None, -math.inf, (), 0  # too few slots for any ID, even with insertions
    # Each slot's best move: its best class, or skipping it when it is that weak.
    reference = np.maximum(best_emit, skip)
    best_possible = float(reference.sum())
    bound = _single_edit_bound(emit, best_emit, skip, gaps, automaton, config)
    if math.isfinite(bound):
        found = _viterbi(emit, reference, skip, gaps, automaton, config,
                         best_possible - bound, bound)
        if found[0] is not None:
            return found
    for limit in (*(step for step in _LOSS_STEPS if step < config.max_loss),
                  config.max_loss):
        # Exact for every path whose total loss is within the limit, so the first limit
        # that finds a path finds the best one.
        found = _viterbi(emit, reference, skip, gaps, automaton, config, limit,
                         best_possible - limit)
        if found[0] is not None:
            return found
    return None, -math.inf, (), 0


def _single_edit_bound(emit: np.ndarray, best_emit: np.ndarray, skip: np.ndarray,
                       gaps: np.ndarray, automaton: IdAutomaton, config: DecodeConfig) -> float:
    """The best score of an accepted read one edit away from the raw read (one slot read
    as another class, one slot skipped, or one character inserted), or -inf."""
    n_slots, n_classes = emit.shape
    raw = np.argmax(emit, axis=1)
    raw_score = float(best_emit.sum())
    best = -math.inf
    if n_slots:
        # Substitutions: slot i read as class c, for every (i, c).
        codes = np.repeat(raw[None, :], n_slots * n_classes, axis=0)
        slot, char = np.divmod(np.arange(n_slots * n_classes), n_classes)
        codes[np.arange(len(codes)), slot] = char
        scores = raw_score - best_emit[slot] + emit[slot, char]
        ok = automaton.accepts_codes(codes) & np.isfinite(scores)
        if ok.any():
            best = max(best, float(scores[ok].max()))
        # Skips: slot i dropped.
        column = np.arange(n_slots - 1)
        codes = raw[column + (column >= np.arange(n_slots)[:, None])]
        ok = automaton.accepts_codes(codes.reshape(n_slots, n_slots - 1))
        if ok.any():
            best = max(best, float((raw_score - best_emit + skip)[ok].max()))
    if config.max_insertions:
        # Insertions: class c before slot i, for every (i, c); all score the same.
        where, char = np.divmod(np.arange((n_slots + 1) * n_classes), n_classes)
        where, char = where[gaps[where]], char[gaps[where]]
        column = np.arange(n_slots + 1)
        source = np.clip(column - (column > where[:, None]), 0, max(n_slots - 1, 0))
        codes = np.where(column == where[:, None], char[:, None],
                         raw[source] if n_slots else char[:, None])
        if automaton.accepts_codes(codes).any():
            best = max(best, raw_score + math.log(1.0 / n_classes) - config.insert_penalty)
    return best


def _viterbi(emit: np.ndarray, reference: np.ndarray, skip: np.ndarray, gaps: np.ndarray,
             automaton: IdAutomaton, config: DecodeConfig, max_loss: float,
             at_least: float) -> tuple[list[int] | None, float, tuple[int, ...], int]:
    """Viterbi over (insertions used, automaton state) with moves of loss <= ``max_loss``
    (against each slot's ``reference``, its best move), dropping states that cannot reach
    ``at_least``; each step maps a state to (score, previous state, character, move)."""
    max_loss += 1e-9 * (1 + abs(max_loss))  # a move of exactly the bound's loss is allowed
    rows, moves = automaton.rows, automaton.moves
    n_slots, n_classes = emit.shape
    slack = 1e-9 * (1 + abs(at_least)) if math.isfinite(at_least) else 0.0
    insert_gain = math.log(1.0 / n_classes) - config.insert_penalty
    insertions = config.max_insertions if -insert_gain <= max_loss else 0
    # The most any path can still gain after each slot: the best scores of the rest.
    rest = np.concatenate([np.cumsum(reference[::-1])[::-1], [0.0]]).tolist()
    # Per slot: (class, gain) with loss <= max_loss, best first.
    by_gain = np.argsort(-emit, axis=1, kind="stable")
    gains = np.take_along_axis(emit, by_gain, axis=1)
    allowed = (gains >= (reference - max_loss)[:, None]).sum(axis=1).tolist()
    by_gain, gains = by_gain.tolist(), gains.tolist()
    choices = [list(zip(by_gain[i][:k], gains[i][:k], strict=True))
               for i, k in enumerate(allowed)]
    skips = np.where(reference - skip <= max_loss, skip, -math.inf).tolist()
    start = (0, automaton.start)
    current: dict[tuple[int, int], tuple[float, tuple[int, int], int, int]] = {
        start: (0.0, start, -1, _KEEP)}
    history = []
    for slot in range(n_slots + 1):
        # One round per insertion allowed, so a gap can take several missed characters.
        for _ in range(insertions if gaps[slot] else 0):
            step = {key: (entry[0], key, -1, _KEEP) for key, entry in current.items()}
            floor = at_least - slack - rest[slot] - insert_gain
            for key, entry in current.items():
                value = entry[0]
                if key[0] >= insertions or value < floor:
                    continue
                total = value + insert_gain
                for char, target in moves[key[1]]:
                    new_key = (key[0] + 1, target)
                    old = step.get(new_key)
                    if old is None or total > old[0]:
                        step[new_key] = (total, key, char, _INSERT)
            history.append(step)
            current = step
        if slot == n_slots:
            break
        step = {}
        bound = at_least - slack - rest[slot + 1]
        skip_gain = skips[slot]
        for key, entry in current.items():
            value = entry[0]
            row = rows[key[1]]
            for char, gain in choices[slot]:
                total = value + gain
                if total < bound:
                    break  # the rest gain less
                target = row[char]
                if target >= 0:
                    new_key = (key[0], target)
                    old = step.get(new_key)
                    if old is None or total > old[0]:
                        step[new_key] = (total, key, char, _EMIT)
            total = value + skip_gain
            if total >= bound:
                old = step.get(key)
                if old is None or total > old[0]:
                    step[key] = (total, key, -1, _SKIP)
        history.append(step)
        current = step
    accepting = automaton.accepting
    finals = [(entry[0], key) for key, entry in current.items() if accepting[key[1]]]
    if not finals:
        return None, -math.inf, (), 0
    score, key = max(finals, key=lambda item: item[0])
    chars: list[int] = []
    skipped: list[int] = []
    inserted = 0
    slot = n_slots
    for step in reversed(history):
        _, previous, char, move = step[key]
        if move in (_EMIT, _SKIP):
            slot -= 1
        if move == _SKIP:
            skipped.append(slot)
        elif move == _EMIT:
            chars.append(char)
        elif move == _INSERT:
            chars.append(char)
            inserted += 1
        key = previous
    return chars[::-1], score, tuple(sorted(skipped)), inserted
