"""Commands that score a reader: evaluate run, billets, rescore, compare."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billet_studio.cli.progress import ProgressBar
from billet_studio.cli.results_commands import add_results_command

#: --score's help; the default (None) becomes evaluation.matching.REPORT_SCORE when the
#: command runs, so building the parser imports no evaluation code.
SCORE_HELP = ("score threshold: lower detections are ignored (default 0.5, the threshold "
              "every report uses)")

#: Columns of the terminal table: rate name and heading.
_COLUMNS = (("TP", "TP"), ("MC", "MC"), ("FN", "FN"), ("FP", "FP"), ("CB", "CB"),
            ("CB_raw", "CB raw"), ("CB_prior", "CB prior"))


def cmd_evaluate_billets(args: argparse.Namespace) -> int:
    import tempfile

    from billet_studio.cli.progress import run_job
    from billet_studio.evaluation.browse import BilletBrowser, BilletFilter
    from billet_studio.evaluation.rematch import rematch_store

    billet_filter = BilletFilter(kinds=frozenset(args.kind), subset=args.subset,
                                 site=args.site, character=args.character, text=args.text,
                                 sort=args.sort, descending=not args.ascending)
    with tempfile.TemporaryDirectory(prefix="billet-studio-rematch-") as scratch:
        store = Path(args.evaluation)
        if args.score is not None:  # the matching re-run at this threshold, in scratch
            rematched = Path(scratch) / "records.sqlite"
            run_job("re-match", rematch_store(store, args.score, rematched))
            store = rematched
        browser = BilletBrowser(store)
        try:
            _list_billets(browser, billet_filter, args)
        finally:
            browser.close()
    return 0


def _list_billets(browser: Any, billet_filter: Any, args: argparse.Namespace) -> None:
    if args.csv:
        written = browser.write_csv(billet_filter, Path(args.csv))
        print(f"wrote {written} billets to {args.csv}")
        return
    print(f"{browser.count(billet_filter)} billets (matched at score "
          f"{browser.match_config.score:g})")
    print(f"{'billet':<28} {'subset':<8} {'site':<5} {'true ID':<14} {'raw read':<14} "
          f"{'prior read':<14} {'TP':>3} {'MC':>3} {'FN':>3} {'FP':>3}")
    for row in browser.page(billet_filter, 0, args.show):
        print(f"{row['file_name'][-28:]:<28} {row['visibility'] or '':<8} "
              f"{row['site'] or '':<5} {row['true_id']:<14} {row['raw_read']:<14} "
              f"{row['prior_read'] or '—':<14} {row['tp']:>3} {row['mc']:>3} "
              f"{row['fn']:>3} {row['fp']:>3}")


def cmd_evaluate_rescore(args: argparse.Namespace) -> int:
    from billet_studio.annotations import Project
    from billet_studio.evaluation.rescore import rescore_from_project

    project = Project.open(Path(args.project))
    images = [Path(p) for p in args.images] or None
    report = rescore_from_project(Path(args.evaluation), project, images)
    for name in report.changed:
        print(f"re-scored {name}")
    for problem in report.problems:
        print(f"warning: {problem}")
    print(f"{len(report.changed)} billets re-scored from corrected labels, "
          f"{report.unchanged} unchanged")
    return 1 if report.problems and not report.changed else 0


def add_evaluate_commands(add: Callable[..., argparse.ArgumentParser],
                          group: Callable[[str, str], Any]) -> None:
    evaluate = group("evaluate", "score a reader's detections against ground truth")
    command = add("run", cmd_evaluate_run,
                  "score COCO-results detections per billet and test subset; writes "
                  "records.sqlite, summary.json and report.html into --out", evaluate)
    command.add_argument("--truth", required=True, help="COCO instances file of the test set")
    command.add_argument("--predictions", required=True,
                         help="COCO results file (image_id, category_id, bbox, score, "
                              "optional class_scores)")
    command.add_argument("--out", required=True, help="evaluation folder (replaced whole)")
    command.add_argument("--project", help="project giving the ID format, sites and "
                                           "visibility of each image")
    command.add_argument("--score", type=float, default=None,
                         help=SCORE_HELP)
    command.add_argument("--iou", type=float, default=0.5, help="IoU for a match (paper: 0.5)")
    command.add_argument("--id-format", help="ID regex (overrides the project's, and its "
                                             "check digit unless --check-digit)")
    command.add_argument("--check-digit", choices=("luhn", "mod11"),
                         help="check-digit rule of the ID (overrides the project's)")
    command.add_argument("--no-prior", action="store_true",
                         help="read IDs without the format prior")
    command.add_argument("--expected-ids", help="text file of the IDs that can occur, "
                                                "one per line (a stronger prior)")
    command.add_argument("--images", help="folder the truth's file names are relative to "
                                          "(default: the project, else the truth's folder)")
    command.add_argument("--bootstrap", type=_count, default=1000,
                         help="resamples for the 95%% intervals (0: none)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--no-report", action="store_true", help="skip report.html")
    command = add("billets", cmd_evaluate_billets,
                  "list an evaluation's billets, filtered and sorted as the studio's error "
                  "browser does; --csv writes them all", evaluate)
    command.add_argument("evaluation", help="evaluation folder (or its records.sqlite)")
    command.add_argument("--kind", action="append", default=[],
                         help="keep billets with this error (repeatable): MC, FN, FP, "
                              "'FP Loc|Cls|Dupe|Bkg|Both', 'CB wrong', 'needs review'")
    command.add_argument("--subset", default="all",
                         help="all, well, poor_or_partial, poor or partial")
    command.add_argument("--site")
    command.add_argument("--character", help="billets where it is misread, missed or "
                                             "falsely found")
    command.add_argument("--text", default="", help="part of the true ID, a read or the file")
    command.add_argument("--sort", default="errors",
                         help="errors, file, 'true ID', 'raw score', 'prior score', MC, FN, "
                              "FP, TP or site")
    command.add_argument("--ascending", action="store_true")
    command.add_argument("--show", type=int, default=20, help="billets printed")
    command.add_argument("--csv", help="write every billet the filter keeps to this file")
    command.add_argument("--score", type=float, default=None,
                         help="re-run the matching at this score threshold first (the "
                              "studio's slider); reads stay the evaluation's")
    command = add("rescore", cmd_evaluate_rescore,
                  "after fixing labels: re-score the billets whose ground truth in the "
                  "project changed since the evaluation (updates its records.sqlite)",
                  evaluate)
    command.add_argument("evaluation", help="evaluation folder (or its records.sqlite)")
    command.add_argument("--project", required=True, help="the project holding the labels")
    command.add_argument("images", nargs="*",
                         help="only these images (default: every billet of the evaluation)")
    command = add("compare", cmd_evaluate_compare,
                  "list the billets that got better or worse from evaluation A to B", evaluate)
    command.add_argument("before", help="evaluation folder A")
    command.add_argument("after", help="evaluation folder B")
    command.add_argument("--show", type=int, default=20, help="billets listed per direction")
    command.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_results_command(add, evaluate)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _inputs(args: argparse.Namespace) -> Any:
    from billet_studio.annotations import IdFormat, Project
    from billet_studio.evaluation.evaluate import EvaluationInputs, load_expected_ids

    truth = Path(args.truth)
    id_format = None
    project_root = None
    if args.project:
        project = Project.open(Path(args.project))
        project_root = project.root
        id_format = project.config.id_format
    if args.check_digit and not (args.id_format or id_format):
        raise ValueError("--check-digit needs an ID format: give --id-format or --project")
    if args.id_format or args.check_digit:
        base = id_format or IdFormat()
        # A new regex starts without a check digit unless one is named with it.
        id_format = IdFormat(args.id_format or base.regex,
                             args.check_digit or (base.check_digit if not args.id_format
                                                  else None))
    if args.no_prior:
        id_format = None
    expected = load_expected_ids(Path(args.expected_ids)) if args.expected_ids else ()
    image_root = Path(args.images) if args.images else (project_root or truth.parent)
    return EvaluationInputs(truth=truth, predictions=Path(args.predictions),
                            id_format=id_format, expected_ids=expected,
                            image_root=image_root, project=project_root)


def _percent(rate: dict[str, float | None]) -> str:
    """A rate from summary.json (None where undefined) as 'value [low-high]' percent."""
    value, low, high = rate["value"], rate["low"], rate["high"]
    if value is None or math.isnan(value):
        return "-"
    if low is None or high is None or math.isnan(low):
        return f"{100 * value:5.1f}"
    return f"{100 * value:5.1f} [{100 * low:.1f}-{100 * high:.1f}]"


def print_rates(groups: list[dict[str, Any]]) -> None:
    """The paper's table: one row per subset (and site), rates in percent with intervals."""
    rows = [[g["title"] + (f" @{g['site']}" if g["site"] else ""), str(g["billets"]),
             *(_percent(g["rates"][name]) for name, _ in _COLUMNS)] for g in groups]
    header = ["subset", "billets", *(title for _, title in _COLUMNS)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))))


def cmd_evaluate_run(args: argparse.Namespace) -> int:
    from billet_studio.cli.gan_commands import first_interrupt_cancels
    from billet_studio.evaluation import (
        BootstrapConfig,
        EvaluationConfig,
        MatchConfig,
        ScoringConfig,
        run_evaluation,
    )
    from billet_studio.evaluation.matching import REPORT_SCORE
    from billet_studio.jobs import CancelToken, JobCancelled

    config = EvaluationConfig(
        scoring=ScoringConfig(match=MatchConfig(
            iou=args.iou, score=REPORT_SCORE if args.score is None else args.score)),
        bootstrap=BootstrapConfig(resamples=args.bootstrap, seed=args.seed),
        report=not args.no_report,
    )
    inputs = _inputs(args)
    out = Path(args.out)
    cancel = CancelToken()
    bar = ProgressBar("evaluate")
    try:
        with first_interrupt_cancels(cancel):
            for progress in run_evaluation(inputs, out, config, cancel):
                bar.update(progress.step, progress.total, progress.message)
    finally:
        bar.close()
    if cancel.cancelled:
        raise JobCancelled(f"nothing written to {out}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    print_rates([g for g in summary["groups"] if g["site"] is None]
                + [g for g in summary["groups"] if g["site"] is not None])
    map50 = summary["map50"]
    print(f"mAP@0.5 {'-' if map50 is None else f'{100 * map50:.1f}'}   "
          f"{summary['billets']} billets, {summary['digits']} digits, "
          f"{summary['seconds']:.2f} s")
    print(f"wrote {out / 'records.sqlite'}, summary.json"
          + ("" if args.no_report else ", report.html"))
    return 0


def _read(row: dict[str, Any]) -> str:
    return row["prior_read"] if row["prior_read"] is not None else "(no ID fits)"


def cmd_evaluate_compare(args: argparse.Namespace) -> int:
    from billet_studio.evaluation.compare import compare_evaluations

    result = compare_evaluations(args.before, args.after)
    if args.json:
        print(json.dumps({
            "better": [c.file_name for c in result.better],
            "worse": [c.file_name for c in result.worse],
            "unchanged": result.unchanged,
            "only_before": list(result.only_before), "only_after": list(result.only_after),
            "different_truth": list(result.different_truth),
            "rates_before": result.rates_before, "rates_after": result.rates_after,
        }, indent=2))
        return 0
    shared = len(result.better) + len(result.worse) + result.unchanged
    print(f"{shared} billets in both; {len(result.better)} better, {len(result.worse)} worse, "
          f"{result.unchanged} unchanged")
    for name in ("TP", "CB", "CB_prior"):
        a, b = result.rates_before[name], result.rates_after[name]
        print(f"  {name:<9}{100 * a:6.1f} -> {100 * b:6.1f}  ({100 * (b - a):+.1f})")
    for title, changes in (("better", result.better), ("worse", result.worse)):
        if changes:
            print(f"{title}:")
        for change in changes[: args.show]:
            a, b = change.before, change.after
            print(f"  {change.file_name}  {a['true_id']}: read {_read(a)} -> {_read(b)}, "
                  f"errors {a['errors']} -> {b['errors']}")
        if len(changes) > args.show:
            print(f"  … and {len(changes) - args.show} more")
    for title, names in (("only in A", result.only_before), ("only in B", result.only_after),
                         ("same file name, another true ID", result.different_truth)):
        if names:
            print(f"{title}: {len(names)} billets (not compared)")
    return 0
