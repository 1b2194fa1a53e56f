"""The GUI-free labelling document: edits, undo/redo, reading order, crash journal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from project_builder import RECTANGLE, SQUARE_WITH_HOLE, add_image

from billet_studio.annotations import (
    AnnotationError,
    CrashJournal,
    EditConflict,
    LabelDocument,
    Project,
    Shape,
)
from billet_studio.annotations import editing as ed
from billet_studio.annotations.journal import sidecar_digest
from billet_studio.geometry import ring_crossings

TRIANGLE = ((70.0, 60.0), (100.0, 60.0), (85.0, 90.0))


@pytest.fixture
def project(tmp_path):
    return Project.create(tmp_path / "p")


@pytest.fixture
def document(project):
    return LabelDocument(add_image(project, "a.png", (*SQUARE_WITH_HOLE, RECTANGLE)))


def test_every_edit_undoes_to_the_saved_state_and_redoes_to_the_edited_one(project):
    poor = Shape("5", TRIANGLE, flags={"poor": True})
    document = LabelDocument(add_image(project, "e.png", (*SQUARE_WITH_HOLE, RECTANGLE, poor)))
    shapes = document.shapes
    builders = [
        lambda s: ed.add_polygon(s, TRIANGLE, "7"),
        lambda s: ed.add_rectangle(s, (1, 2), (9, 8), "1"),
        lambda s: ed.add_shapes(s, [s[0], s[1]], "Duplicate", (5, 5)),
        lambda s: ed.delete_shapes(s, [0]),
        lambda s: ed.add_hole(s, 0, ((12, 40), (18, 40), (15, 50))),
        lambda s: ed.move_vertex(s, 0, 2, (55.0, 65.0)),
        lambda s: ed.insert_vertex(s, 0, 0, (30.0, 5.0)),
        lambda s: ed.delete_vertex(s, 0, 1),
        lambda s: ed.translate_shapes(s, [0], 3.0, -2.0),
        lambda s: ed.set_label(s, [0], "B"),
        lambda s: ed.set_flag(s, [0], "partial", True),
        lambda s: ed.clear_visibility(s, [3]),
        lambda s: ed.set_billet(document.billet, "Set site", site="B"),
    ]
    seen = []
    document.subscribe(seen.append)
    for build in builders:
        before = list(document.shapes), document.billet
        edit = build(document.shapes)
        document.apply(edit)
        after = list(document.shapes), document.billet
        assert after != before, edit.text
        document.undo(edit)
        assert (list(document.shapes), document.billet) == before, edit.text
        assert not document.modified
        document.apply(edit)
        assert (list(document.shapes), document.billet) == after, edit.text
        document.undo(edit)
    assert len(seen) == 4 * len(builders) and shapes == document.shapes


def test_an_outline_s_holes_move_relabel_and_delete_with_it(document):
    document.apply(ed.translate_shapes(document.shapes, [0], 10, 0))
    assert document.shapes[1].points[0] == (30.0, 20.0)  # the hole moved too
    document.apply(ed.set_label(document.shapes, [0], "0"))
    assert [s.label for s in document.shapes[:2]] == ["0", "0"]
    document.apply(ed.delete_shapes(document.shapes, [0]))
    assert document.shapes == [RECTANGLE]
    assert document.modified


def test_a_polygon_never_drops_below_three_vertices(document):
    document.apply(ed.add_polygon(document.shapes, TRIANGLE))
    with pytest.raises(ed.EditRefused, match="at least 3 vertices"):
        ed.delete_vertex(document.shapes, 3, 0)
    with pytest.raises(ed.EditRefused, match="rectangle"):
        ed.delete_vertex(document.shapes, 2, 0)
    with pytest.raises(ed.EditRefused, match="at least 3"):
        ed.add_polygon(document.shapes, TRIANGLE[:2])


def test_a_hole_outside_its_polygon_is_refused_and_one_inside_joins_its_group(document):
    with pytest.raises(ed.EditRefused, match="inside the selected polygon"):
        ed.add_hole(document.shapes, 0, ((70, 70), (80, 70), (75, 80)))
    document.apply(ed.add_polygon(document.shapes, ((0, 0), (60, 0), (60, 60), (0, 60)), "A"))
    document.apply(ed.add_hole(document.shapes, 3, ((5, 5), (9, 5), (7, 9))))
    outline, hole = document.shapes[3], document.shapes[4]
    assert hole.is_hole and hole.group_id == outline.group_id == 2 and hole.label == "A"
    assert ed.holes_of(document.shapes, 3) == [4]


def test_a_stale_edit_is_a_conflict_and_changes_nothing(document):
    edit = ed.move_vertex(document.shapes, 0, 0, (1.0, 1.0))
    document.apply(ed.set_label(document.shapes, [2], "Z"))
    before = list(document.shapes)
    with pytest.raises(EditConflict):
        document.apply(ed.move_vertex(before, 2, 0, (0.0, 0.0)).inverse())
    document.apply(edit)  # still fits: shape 0 is untouched
    assert document.shapes[2].label == "Z" and len(document.shapes) == len(before)


def test_pasted_groups_get_fresh_ids(document):
    document.apply(ed.add_shapes(document.shapes, document.shapes[:2], "Paste", (60, 0)))
    assert [s.group_id for s in document.shapes] == [1, 1, None, 2, 2]
    assert ed.holes_of(document.shapes, 3) == [4]


def test_reading_order_goes_line_by_line_and_finds_the_next_unlabelled():
    def box(x, y, label=""):
        return Shape(label, ((x, y), (x + 8, y), (x + 8, y + 12), (x, y + 12)))
    shapes = [box(40, 2), box(0, 30, "A"), box(10, 0), box(20, 31), box(25, 1, "C")]
    assert ed.reading_order(shapes) == [2, 4, 0, 1, 3]
    assert ed.next_unlabelled(shapes, 2) == 0
    assert ed.next_unlabelled(shapes, 0) == 3
    assert ed.next_unlabelled(shapes, 3) == 2  # wraps


def test_shape_at_picks_a_hole_first_then_the_topmost_outline(document):
    assert ed.shape_at(document.shapes, (25, 25)) == 1  # inside the hole
    assert ed.shape_at(document.shapes, (15, 50)) == 0
    assert ed.shape_at(document.shapes, (70, 20)) == 2
    assert ed.shape_at(document.shapes, (5, 95)) is None


def test_nearest_edge_gives_the_insertion_point():
    edge, distance, point = ed.nearest_edge(((0, 0), (10, 0), (10, 10), (0, 10)), (5, 1))
    assert (edge, distance, point) == (0, 1.0, (5.0, 0.0))
    edge, _, _ = ed.nearest_edge(((0, 0), (10, 0), (10, 10), (0, 10)), (-1, 5))
    assert edge == 3  # the closing edge


def test_ring_crossings_finds_each_self_intersection():
    bow_tie = ((0, 0), (10, 10), (10, 0), (0, 10))
    assert ring_crossings(bow_tie) == [(5.0, 5.0)]
    assert ring_crossings(((0, 0), (10, 0), (10, 10), (0, 10))) == []
    assert ring_crossings(((0, 0), (10, 0), (5, 5))) == []
    # An open path being drawn: the fourth edge crosses the first.
    assert ring_crossings(((0, 0), (10, 0), (10, 5), (5, -5)), closed=False) == [(7.5, 0.0)]
    assert len(ring_crossings(((0, 0), (4, 0), (4, 4), (2, 4), (2, -2), (0, -2)))) == 1


def _random_edit(kind, shapes, target, amount):
    if kind == 0:
        return ed.add_polygon(shapes, [(x + amount, y) for x, y in TRIANGLE], "9")
    if kind == 1:
        return ed.delete_shapes(shapes, [target])
    if kind == 2:
        return ed.translate_shapes(shapes, [target], amount, -amount)
    if kind == 3:
        return ed.set_label(shapes, [target], "ABCDEFGHIJ"[int(abs(amount)) % 10])
    if kind == 4:
        return ed.move_vertex(shapes, target, 0, (amount, amount))
    if kind == 5:
        return ed.delete_vertex(shapes, target, 0)
    if kind == 6:
        return ed.insert_vertex(shapes, target, 0, (amount, 0.5))
    return ed.set_flag(shapes, [target], "poor", amount > 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6), st.floats(-20, 20)),
                min_size=1, max_size=12))
def test_any_sequence_of_edits_undoes_in_reverse_and_redoes(tmp_path_factory, steps):
    base = (*SQUARE_WITH_HOLE, RECTANGLE, Shape("5", TRIANGLE))
    document = LabelDocument(add_image(Project.create(tmp_path_factory.mktemp("p")),
                                       "h.png", base))
    done, states = [], [list(document.shapes)]
    for kind, target, amount in steps:
        shapes = document.shapes
        target %= len(shapes) or 1
        try:
            edit = _random_edit(kind, shapes, target, amount)
        except (ed.EditRefused, IndexError):
            continue
        document.apply(edit)
        done.append(edit)
        states.append(list(document.shapes))
    for edit, state in zip(reversed(done), reversed(states[:-1]), strict=True):
        document.undo(edit)
        assert document.shapes == state
    for edit, state in zip(done, states[1:], strict=True):
        document.apply(edit)
        assert document.shapes == state


def test_crash_journal_recovers_unsaved_edits_after_a_kill(project):
    record = add_image(project, "b.png")
    sidecar = project.sidecar_path(record.image_path)
    document = LabelDocument(record)
    base = sidecar_digest(sidecar)
    document.apply(ed.add_polygon(document.shapes, TRIANGLE, "4"))
    journal = CrashJournal(project)
    journal.write(document.to_record(), base)
    # The studio dies here: nothing saved the sidecar, the journal survives.
    entries, errors = CrashJournal(project).entries()
    assert errors == [] and [e.image_path.name for e in entries] == ["b.png"]
    assert not entries[0].sidecar_changed(project)
    recovered = journal.recover(entries[0])
    assert recovered.shapes == tuple(document.shapes)
    assert json.loads(sidecar.read_text())["shapes"][-1]["label"] == "8"  # disk untouched
    project.save_record(recovered)
    assert entries[0].sidecar_changed(project)
    journal.discard(record.image_path)
    assert CrashJournal(project).entries() == ([], [])
    assert record.image_path in project.image_paths()  # the journal is no image folder


def test_a_corrupt_or_escaping_journal_entry_is_reported_not_recovered(project):
    record = add_image(project, "c.png")
    journal = CrashJournal(project)
    journal.write(record, None)
    entry_file = next(journal.folder.glob("*.json"))
    entry_file.write_text('{"format": "billet-studio-journal/1", "image": "../x.png", '
                          '"written_at": 1}')
    entries, errors = journal.entries()
    assert entries == [] and "outside the project folder" in str(errors[0])
    entry_file.write_text("{not json")
    _, errors = journal.entries()
    assert isinstance(errors[0], AnnotationError) and entry_file.name in str(errors[0])
