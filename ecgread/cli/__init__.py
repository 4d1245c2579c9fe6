"""The ``ecgread`` command.

    ecgread analyze PATH... [--json]        read ECG files (DICOM, WFDB, MUSE, Philips, aECG, SCP)
    ecgread serve                           DICOM + HL7 listeners, reads, deliveries
    ecgread worker                          a Celery worker (scale-out; needs --broker-url)
    ecgread demo                            the whole loop on embedded defaults, once
    ecgread batch PATH... --out DIR         re-read a folder or archive of ECGs
    ecgread audit WHAT [filters]            query the audit trail ("failed": ECGs not read)
    ecgread db upgrade                      migrate the audit database

Options given on the command line override ``ECGREAD_*`` environment variables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from ecgread.config.settings import Settings, load_settings
from ecgread.errors import EcgreadError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="working directory (store, reports, SQLite) [ECGREAD_HOME]")
    p.add_argument("--database-url", help="audit database URL [ECGREAD_DATABASE_URL]")
    p.add_argument("--broker-url", help="Celery broker URL; empty = in process [ECGREAD_BROKER_URL]")
    p.add_argument("--delineator", choices=("fused", "dsp", "network"),
                   help="delineation engine [ECGREAD_DELINEATOR]")
    p.add_argument("-v", "--verbose", action="store_true")


def _settings(args: argparse.Namespace, **more: Any) -> Settings:
    overrides = {"home": args.home, "database_url": args.database_url,
                 "broker_url": args.broker_url, "delineator": args.delineator, **more}
    return load_settings(overrides)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgread", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="read ECG files and print measurements and statements")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per input, per line")
    _add_common(p)

    p = sub.add_parser("serve", help="run the DICOM and HL7 listeners with reads and delivery")
    p.add_argument("--dicom-port", type=int)
    p.add_argument("--hl7-port", type=int)
    p.add_argument("--ae-title")
    _add_common(p)

    p = sub.add_parser("worker", help="run a Celery worker (needs a broker)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--queues", default="deliveries.critical,reads,deliveries")
    _add_common(p)

    p = sub.add_parser("demo", help="send pydicom's sample ECG through the real listener")
    p.add_argument("--file", type=Path, help="a DICOM ECG to send instead of the sample")
    _add_common(p)

    p = sub.add_parser("batch", help="re-read ECG files or stored ECGs, writing JSON and PDFs")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (DICOM, WFDB)")
    p.add_argument("--stored", action="store_true", help="re-read ECGs in the audit database")
    p.add_argument("--since", type=datetime.fromisoformat)
    p.add_argument("--until", type=datetime.fromisoformat)
    p.add_argument("--out", type=Path, help="folder for results (JSON lines, PDFs)")
    _add_common(p)

    p = sub.add_parser("audit", help="query the audit trail (JSON lines)")
    p.add_argument("what", choices=("received", "ecgs", "failed", "reads", "orders",
                                    "deliveries", "events", "verify"),
                   help="failed: ECGs whose read failed, with the reason and attempts")
    p.add_argument("--patient")
    p.add_argument("--accession")
    p.add_argument("--sop")
    p.add_argument("--state")
    p.add_argument("--status")
    p.add_argument("--destination")
    p.add_argument("--trace")
    p.add_argument("--since", type=datetime.fromisoformat)
    p.add_argument("--until", type=datetime.fromisoformat)
    p.add_argument("--limit", type=int, default=200)
    _add_common(p)

    p = sub.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=("upgrade",))
    _add_common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for chatty in ("fontTools", "weasyprint", "alembic"):  # per-glyph and per-step INFO lines
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except EcgreadError as exc:
        print(f"ecgread: {exc}", file=sys.stderr)
        return 2


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ecgread.cli.textual import describe
    from ecgread.integration.ecg_files import read_ecg_file
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    settings = _settings(args)
    config = AnalysisConfig(delineator=settings.delineator)
    models = process_models(settings.model_registry)
    failures = 0
    for path in args.paths:
        try:
            ecg = read_ecg_file(path)
            analysis = with_ecgread_version(analyze(ecg, config, models=models))
        except EcgreadError as exc:
            failures += 1
            if args.json:
                print(json.dumps({"source": str(path), "error": str(exc)}), flush=True)
            else:
                print(f"{path}: error: {exc}", file=sys.stderr)
            continue
        if args.json:
            out = analysis.to_json_dict()
            if ecg.vendor_read is not None:  # additive: the device's own read, archive files
                out["vendor"] = ecg.vendor_read.to_json_dict()
            print(json.dumps(out), flush=True)
        else:
            print(describe(analysis))
    return 1 if failures else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ecgread.cli.service import start

    settings = _settings(args, dicom_port=args.dicom_port, hl7_port=args.hl7_port,
                         dicom_ae_title=args.ae_title)
    service = start(settings)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"ecgread: DICOM {settings.dicom_ae_title}@{service.dicom_port}, "
          f"HL7 MLLP @{service.hl7_port}; Ctrl-C to stop", file=sys.stderr, flush=True)
    done.wait()
    service.stop()
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.broker_url:
        print("ecgread worker: needs a broker (--broker-url or ECGREAD_BROKER_URL); "
              "without one, `ecgread serve` reads in process", file=sys.stderr)
        return 2
    from ecgread.workers.celery_app import make_celery
    from ecgread.workers.model_registry import load_registry

    load_registry(settings.model_registry)  # a wrong or missing model file stops us here
    app = make_celery(settings)  # the tasks run with these settings, not the environment's
    # A node name of its own per worker process: several workers on one host would
    # otherwise fight over the same exclusive control queue (celery@HOST.celery.pidbox).
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={args.concurrency}",
                     "-Q", args.queues, "--without-gossip", "--without-mingle",
                     "-n", f"ecgread-{os.getpid()}@%h"])
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ecgread.cli.demo import run_demo

    return run_demo(_settings(args), args.file)


def _cmd_batch(args: argparse.Namespace) -> int:
    from ecgread.workers.batch import run_batch

    return run_batch(_settings(args), args.paths, stored=args.stored, since=args.since,
                     until=args.until, out=args.out)


def _cmd_audit(args: argparse.Namespace) -> int:
    from ecgread.audit import queries
    from ecgread.audit.anchor import open_audit
    from ecgread.audit.db import session_scope
    from ecgread.audit.verify import verify

    settings = _settings(args)
    anchor = open_audit(settings)
    with session_scope(settings.audit_url) as s:
        if args.what == "verify":
            notes: list[str] = []
            problems = verify(s, anchor, notes)
            for note in notes:
                print(f"note: {note}")
            for p in problems:
                print(p)
            print("audit trail intact: event chain, signatures, checkpoints, sealed rows"
                  if not problems else f"{len(problems)} problem(s)")
            return 1 if problems else 0
        rows: list[Any]
        if args.what == "received":
            rows = queries.received(s, status=args.status, identifier=args.sop or args.trace,
                                    patient_id=args.patient, since=args.since, until=args.until,
                                    limit=args.limit)
        elif args.what == "ecgs":
            rows = queries.ecgs(s, patient_id=args.patient, accession=args.accession,
                                sop_instance_uid=args.sop, state=args.state, since=args.since,
                                until=args.until, limit=args.limit)
        elif args.what == "failed":
            rows = queries.failed_ecgs(s, patient_id=args.patient, since=args.since,
                                       until=args.until, limit=args.limit)
        elif args.what == "reads":
            rows = [read for read, _ in queries.reads(s, sop_instance_uid=args.sop,
                                                      limit=args.limit)]
        elif args.what == "orders":
            rows = queries.orders(s, status=args.status, patient_id=args.patient,
                                  accession=args.accession, limit=args.limit)
        elif args.what == "deliveries":
            rows = queries.deliveries(s, state=args.state, destination=args.destination,
                                      patient_id=args.patient, sop_instance_uid=args.sop,
                                      limit=args.limit)
        else:
            rows = queries.events(s, trace_id=args.trace or args.sop, since=args.since,
                                  limit=args.limit)
        for row in rows:
            print(json.dumps(queries.row_dict(row), default=str))
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    from ecgread.audit.db import migrate

    settings = _settings(args)
    migrate(settings.audit_url)
    print(f"audit database at newest revision: {settings.audit_url.split('@')[-1]}")
    return 0


_COMMANDS = {"analyze": _cmd_analyze, "serve": _cmd_serve, "worker": _cmd_worker,
             "demo": _cmd_demo, "batch": _cmd_batch, "audit": _cmd_audit, "db": _cmd_db}

if __name__ == "__main__":
    sys.exit(main())
