"""The run lock: a live training process is seen as live, a dead one never is."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from billet_studio.training.run_lock import RunBusy, RunLock, lock_holder

HOLD = ("import sys, time; from pathlib import Path; "
        "from billet_studio.training.run_lock import RunLock; "
        "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True); "
        "time.sleep(60)")


def test_a_held_lock_names_its_process_and_refuses_a_second_trainer(tmp_path):
    run = tmp_path / "run"
    assert lock_holder(run) is None
    with RunLock(run):
        holder = lock_holder(run)
        assert holder["pid"] > 0 and holder["host"]
        with pytest.raises(RunBusy, match=f"process {holder['pid']}"):
            RunLock(run).acquire()
    assert lock_holder(run) is None  # released, the file stays
    assert (run / "run.lock").exists()


def test_a_killed_process_releases_its_run(tmp_path):
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert lock_holder(run)["pid"] == child.pid
        child.kill()  # no cleanup runs: the OS drops the lock
        child.wait(10)
        deadline = time.monotonic() + 5
        while lock_holder(run) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_holder(run) is None
        with RunLock(run):  # the run can be resumed
            assert lock_holder(run)["pid"] != child.pid
    finally:
        child.kill()
        child.wait(10)


def test_run_status_tells_running_finished_stopped_failed_and_killed(tmp_path):
    from billet_studio.training.run_status import (
        LogTail,
        clear_exit,
        find_runs,
        run_status,
        write_exit,
    )

    run = tmp_path / "runs" / "detector" / "r1"
    assert run_status(run).state == "new"
    run.mkdir(parents=True)
    log = run / "log.jsonl"
    tail = LogTail(log)
    log.write_text('{"step": 10, "total": 40, "metrics": {"loss": 2.0}}\n{"step": 20, "to')
    assert [r["step"] for r in tail.read_new()] == [10]  # the torn line waits
    with RunLock(run):
        status = run_status(run)
        assert (status.state, status.step, status.total) == ("running", 10, 40)
        with open(log, "a") as stream:
            stream.write('tal": 40, "metrics": {"loss": 1.5}}\n')
        assert [r["metrics"]["loss"] for r in tail.read_new()] == [1.5]
    # The lock is gone and nothing said how it ended: killed.
    status = run_status(run)
    assert status.state == "failed" and "without a word" in status.detail
    assert status.last_lines[-1].endswith('"loss": 1.5}}')
    write_exit(run, "stopped", "at step 20")
    assert (run_status(run).state, run_status(run).detail) == ("stopped", "at step 20")
    clear_exit(run)
    write_exit(run, "finished")
    assert [s.state for s in find_runs(tmp_path)] == ["finished"]
    # A run that logged its last step but wrote no exit.json (made before there was one)
    # finished; one that stopped short of it without a word was killed.
    clear_exit(run)
    with open(log, "a") as stream:
        stream.write('{"step": 40, "total": 40, "metrics": {"loss": 1.0}}\n')
    assert run_status(run).state == "finished"


def test_a_log_tail_starts_over_when_the_log_is_replaced(tmp_path):
    from billet_studio.training.run_status import LogTail

    log = tmp_path / "build-log.jsonl"
    log.write_text("".join(f'{{"step": {i}}}\n' for i in range(50)))
    tail = LogTail(log)
    assert len(tail.read_new()) == 50
    log.unlink()  # a resumed export logs afresh: a new, shorter file
    log.write_text('{"step": 40}\n')
    assert [r["step"] for r in tail.read_new()] == [40]
    replacement = tmp_path / "new.jsonl"  # replaced in place by a longer file
    replacement.write_text("".join(f'{{"step": {i}}}\n' for i in range(100, 160)))
    os.replace(replacement, log)
    assert [r["step"] for r in tail.read_new()][:2] == [100, 101]


def test_a_cancel_request_is_told_from_a_pause(tmp_path):
    from billet_studio.jobs import request_stop, stop_reason

    assert stop_reason(tmp_path) is None
    request_stop(tmp_path)
    assert stop_reason(tmp_path) == "stop"
    request_stop(tmp_path, "cancel")
    assert stop_reason(tmp_path) == "cancel"
    with pytest.raises(ValueError):
        request_stop(tmp_path, "halt")
