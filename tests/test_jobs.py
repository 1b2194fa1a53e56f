"""The job protocol: progress, cancel tokens, stop-request files, JSONL logs."""

from __future__ import annotations

import pytest

from billet_studio.jobs import (
    CancelToken,
    JobCancelled,
    JsonlProgressWriter,
    Progress,
    drive,
    read_progress_log,
    request_stop,
)


def counting_job(total: int, cleaned: list[str]):
    try:
        for step in range(1, total + 1):
            yield Progress(step, total, f"step {step}", {"loss": 1.0 / step})
    finally:
        cleaned.append("closed")


def test_drive_stops_at_the_next_yield_after_cancel():
    cancel = CancelToken()
    cleaned: list[str] = []
    seen = []
    with pytest.raises(JobCancelled):
        for progress in drive(counting_job(10, cleaned), cancel):
            seen.append(progress.step)
            if progress.step == 3:
                cancel.cancel()
    assert seen == [1, 2, 3]
    assert cleaned == ["closed"]


def test_stop_request_file_cancels_from_another_process(tmp_path):
    cancel = CancelToken(stop_file=tmp_path / "STOP")
    assert not cancel.cancelled
    request_stop(tmp_path)
    assert cancel.cancelled


def test_jsonl_log_round_trips_and_skips_a_torn_last_line(tmp_path):
    log = tmp_path / "run" / "log.jsonl"
    writer = JsonlProgressWriter(log)
    for progress in counting_job(3, []):
        writer.write(progress)
    with open(log, "a", encoding="utf-8") as stream:
        stream.write('{"step": 4, "tot')  # a crash in the middle of a write
    reports = read_progress_log(log)
    assert [r.step for r in reports] == [1, 2, 3]
    assert reports[1].metrics == {"loss": 0.5}
    assert reports[2].fraction == 1.0
    assert Progress(5).fraction is None
