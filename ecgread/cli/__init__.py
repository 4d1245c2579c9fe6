"""The ``ecgread`` command.

    ecgread analyze PATH... [--json]        read ECG files (DICOM, WFDB, MUSE, Philips, aECG, SCP);
                                            exit 1 when any of them failed
    ecgread serve                           DICOM + HL7 listeners, reads, deliveries
    ecgread worker                          a Celery worker (scale-out; needs --broker-url)
    ecgread demo                            the whole loop on embedded defaults, once
    ecgread batch PATH... --out DIR         re-read a folder or archive of ECGs (resumable)
    ecgread audit WHAT [filters]            query the audit trail ("failed": ECGs not read)
    ecgread status [--json]                 queues, unfinished ECGs, pending and dead deliveries
    ecgread db upgrade                      migrate the audit database
    ecgread config                          the effective settings and their sources
    ecgread health [dicom] [hl7] [web]      do the listeners / web app answer? (healthcheck)
    ecgread web                             the cardiologists' worklist, review and audit UI
    ecgread user add NAME --role ROLE       a web account (password from stdin or a prompt)

Options given on the command line override ``ECGREAD_*`` environment variables; every
command uses the same home (``--home``/``ECGREAD_HOME``, default ``/var/lib/ecgread`` when
it exists and is writable, else ``./var`` made absolute).
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

from ecgread import __version__
from ecgread.config.settings import (
    SettingInfo,
    Settings,
    load_settings,
    mask_secret,
    setting_infos,
    setting_sources,
    unknown_environment,
)
from ecgread.errors import ConfigError, EcgreadError

log = logging.getLogger("ecgread")

#: The filters each ``audit`` query applies; any other is refused, never ignored.
_AUDIT_FILTERS: dict[str, frozenset[str]] = {
    "received": frozenset({"status", "sop", "trace", "patient", "since", "until", "limit"}),
    "ecgs": frozenset({"patient", "accession", "sop", "status", "since", "until", "limit"}),
    "failed": frozenset({"patient", "since", "until", "limit"}),
    "reads": frozenset({"patient", "sop", "limit"}),
    "orders": frozenset({"status", "patient", "accession", "limit"}),
    "deliveries": frozenset({"status", "destination", "patient", "sop", "limit"}),
    "events": frozenset({"trace", "sop", "patient", "since", "until", "limit"}),
    "verify": frozenset(),
}


def _option_help(info: SettingInfo) -> str:
    """Help for a setting's option, from the settings metadata: meaning, variable, default
    and allowed values."""
    facts = [info.env, "default: " + (info.default or "(empty)")]
    if info.choices:
        facts.append("one of " + ", ".join(info.choices))
    if info.secret:
        facts.append("secret")
    return (info.help.replace("``", "") + " [" + "; ".join(facts) + "]").replace("%", "%%")


def _listener_only(name: str) -> bool:
    """Settings only the listeners use (``serve``), not the read workers."""
    return name == "store_min_free_bytes" or (
        name.startswith(("dicom_", "hl7_")) and name not in
        ("dicom_ae_title", "hl7_sending_application", "hl7_sending_facility"))


def _command_settings(command: str) -> tuple[str, ...]:
    """The settings each command takes as options (every one also as ``ECGREAD_*``)."""
    names = tuple(info.name for info in setting_infos())
    return {
        "analyze": ("delineator", "model_registry"),
        "serve": names,
        "worker": tuple(n for n in names if not _listener_only(n)),
        "demo": ("home", "database_url", "delineator", "model_registry", "page_size"),
        "batch": ("home", "database_url", "broker_url", "delineator"),
        "audit": ("home", "database_url"),
        "db": ("home", "database_url"),
        "status": ("home", "database_url", "broker_url"),
        "config": names,
        "health": ("dicom_ae_title", "dicom_host", "dicom_port", "hl7_host", "hl7_port",
                   "web_host", "web_port"),
        "web": ("home", "database_url", "ehr_host", "ehr_port", "web_host", "web_port",
                "web_secret_key", "web_lockout_failures", "web_lockout_s",
                "web_session_max_age_s", "page_size"),
        "user": ("home", "database_url"),
    }[command]


#: Old option spellings kept working (hidden from --help): alias -> setting.
_HIDDEN_ALIASES = {"--ae-title": "dicom_ae_title"}


def _metavar(info: SettingInfo) -> str:
    last = info.name.split("_")[-1]
    return {"s": "SECONDS", "min": "MINUTES", "aes": "AE_TITLES", "hosts": "ADDRESSES"}.get(
        last, last.upper())


def _add_settings(p: argparse.ArgumentParser, command: str) -> None:
    wanted = _command_settings(command)
    group = p.add_argument_group("settings (each also an ECGREAD_* variable; options win)")
    for info in setting_infos():
        if info.name in wanted:
            group.add_argument(info.option, dest=info.name, choices=info.choices or None,
                               metavar=None if info.choices else _metavar(info),
                               help=_option_help(info))
    for alias, name in _HIDDEN_ALIASES.items():
        if name in wanted:
            group.add_argument(alias, dest=name, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {info.name: getattr(args, info.name) for info in setting_infos()
            if hasattr(args, info.name)}


def _settings(args: argparse.Namespace, **more: Any) -> Settings:
    settings = load_settings({**_overrides(args), **more})
    if hasattr(args, "home"):
        source = setting_sources(_overrides(args))["home"]
        log.info("home %s (%s)", settings.home, source)
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgread", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ecgread {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="read ECG files and print measurements and statements")
    p.add_argument("paths", nargs="+", type=Path,
                   help="ECG files: DICOM, WFDB (.hea), GE MUSE, Philips, HL7 aECG, SCP-ECG")
    p.add_argument("--json", action="store_true", help="one JSON object per input, per line")
    # analyze writes nothing to a home; --home stays accepted (hidden) for existing scripts
    p.add_argument("--home", dest="unused_home", help=argparse.SUPPRESS)
    _add_settings(p, "analyze")

    p = sub.add_parser("serve", help="run the DICOM and HL7 listeners with reads and delivery")
    _add_settings(p, "serve")

    p = sub.add_parser("worker", help="run a Celery worker (needs a broker)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="read processes in this worker (default: 1)")
    p.add_argument("--queues", default="deliveries.critical,reads,deliveries",
                   help="queues to consume, in priority order, of deliveries.critical, "
                        "reads, deliveries and batch; ECGREAD_QUEUE_PREFIX is put before "
                        "each (default: %(default)s)")
    _add_settings(p, "worker")

    p = sub.add_parser("demo", help="send pydicom's sample ECG through the real listener")
    p.add_argument("--file", type=Path, help="a DICOM ECG to send instead of the sample")
    _add_settings(p, "demo")

    p = sub.add_parser("batch", help="re-read ECG files or stored ECGs, writing JSON and PDFs")
    p.add_argument("paths", nargs="*", type=Path,
                   help="files or folders (DICOM, WFDB, GE MUSE, Philips, HL7 aECG, SCP-ECG)")
    p.add_argument("--stored", action="store_true", help="re-read ECGs in the audit database")
    p.add_argument("--since", type=_when, help="--stored: received from (date or date-time)")
    p.add_argument("--until", type=_until,
                   help="--stored: received before (date-time; a date includes that day)")
    p.add_argument("--deliver", action="store_true",
                   help="--stored: send the new results to the EHR/PACS again")
    p.add_argument("--out", type=Path, help="folder for results (JSON lines, PDFs, report); "
                   "a rerun into the same folder resumes")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (files, no broker)")
    p.add_argument("--no-pdf", dest="pdf", action="store_false", help="analysis only")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_settings(p, "batch")

    p = sub.add_parser("audit", help="query the audit trail (JSON lines)",
                       epilog="Filters per query: " + "; ".join(
                           f"{what}: " + (", ".join(f"--{f}" for f in sorted(fs)) or "none")
                           for what, fs in _AUDIT_FILTERS.items()))
    p.add_argument("what", choices=tuple(_AUDIT_FILTERS),
                   help="what to list, or verify the event hash chain")
    p.add_argument("--patient", help="patient ID")
    p.add_argument("--accession", help="accession number")
    p.add_argument("--sop", help="SOP Instance UID of an ECG")
    p.add_argument("--status", help="status or state (received: DICOM status or ACK code; "
                   "ecgs: received/reading/reported/failed; orders: pending/...; "
                   "deliveries: pending/sending/delivered/dead)")
    p.add_argument("--state", dest="status", help=argparse.SUPPRESS)  # the old spelling
    p.add_argument("--destination", help="deliveries: ehr or pacs")
    p.add_argument("--trace", help="trace ID: SOP Instance UID or HL7 MSH-10")
    p.add_argument("--since", type=datetime.fromisoformat, help="from this ISO date-time")
    p.add_argument("--until", type=datetime.fromisoformat, help="before this ISO date-time")
    p.add_argument("--limit", type=int, default=200, help="most rows (default: 200)")
    _add_settings(p, "audit")

    p = sub.add_parser("web", help="the web application: worklist, confirm, audit trail")
    _add_settings(p, "web")

    p = sub.add_parser("user", help="web accounts")
    p.add_argument("action", choices=("add",))
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("cardiologist", "technician", "auditor"))
    _add_settings(p, "user")

    p = sub.add_parser("status", help="queue depths, unfinished and failed ECGs, deliveries")
    p.add_argument("--json", action="store_true")
    _add_settings(p, "status")

    p = sub.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=("upgrade",), help="upgrade: migrate to the newest schema")
    _add_settings(p, "db")

    p = sub.add_parser("health", help="check this node's DICOM (C-ECHO) and HL7 MLLP listeners "
                       "or its web app (GET /login) answer (exit 0 when all do); the "
                       "containers' healthcheck")
    p.add_argument("checks", nargs="*", metavar="CHECK",
                   help="dicom, hl7 and/or web (default: dicom hl7)")
    _add_settings(p, "health")

    p = sub.add_parser("config", help="print the effective settings and where each comes "
                       "from (default, environment, option); secrets masked")
    _add_settings(p, "config")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for chatty in ("fontTools", "weasyprint", "alembic"):  # per-glyph and per-step INFO lines
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    for warning in unknown_environment():
        log.warning("%s", warning)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except EcgreadError as exc:
        print(f"ecgread: {exc}", file=sys.stderr)
        return 2


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ecgread.cli.textual import describe
    from ecgread.integration.ecg_files import read_ecg_file
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.models.dsp_config import delineator_named
    from ecgread.workers.onnx_models import process_models
    from ecgread.workers.provenance import with_ecgread_version

    settings = _settings(args)
    config = AnalysisConfig(delineator=delineator_named(settings.delineator))
    models = process_models(settings.model_registry)
    failures = 0
    for path in args.paths:
        try:
            ecg = read_ecg_file(path)
            analysis = with_ecgread_version(analyze(ecg, config, models=models))
            out = analysis.to_json_dict()
            if ecg.vendor_read is not None:  # additive: the device's own read, archive files
                out["vendor"] = ecg.vendor_read.to_json_dict()
            line = json.dumps(out) if args.json else describe(analysis)
        except Exception as exc:  # noqa: BLE001  (one record that fails never stops the others)
            failures += 1
            error = str(exc) if isinstance(exc, EcgreadError) else f"{type(exc).__name__}: {exc}"
            if args.json:
                print(json.dumps({"source": str(path), "error": error}), flush=True)
            print(f"{path}: error: {error}", file=sys.stderr, flush=True)
            continue
        print(line, flush=True)
    return 1 if failures else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ecgread.cli.service import start

    settings = _settings(args)
    service = start(settings)
    done = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        done.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    print(f"ecgread: DICOM {settings.dicom_ae_title}@{service.dicom_port}, "
          f"HL7 MLLP @{service.hl7_port}; Ctrl-C to stop", file=sys.stderr, flush=True)
    done.wait()
    log.info("%s received: stopping (listeners close, the read in progress finishes)",
             received[0] if received else "stop")
    service.stop()
    log.info("stopped cleanly")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.broker_url:
        print("ecgread worker: needs a broker (--broker-url or ECGREAD_BROKER_URL); "
              "without one, `ecgread serve` reads in process", file=sys.stderr)
        return 2
    from ecgread.cli.startup import check_broker, migrate_database, results_destination
    from ecgread.workers.celery_app import make_celery
    from ecgread.workers.model_registry import load_registry
    from ecgread.workers.queues import ALL_QUEUES, queue_name

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = [q for q in queues if q not in ALL_QUEUES]
    if unknown or not queues:
        raise ConfigError(f"--queues {args.queues!r}: each must be one of "
                          f"{', '.join(ALL_QUEUES)}")

    migrate_database(settings)
    check_broker(settings)
    load_registry(settings.model_registry)  # a wrong or missing model file stops us here
    log.info("worker: reads from broker %s; %s", mask_secret(settings.broker_url),
             results_destination(settings))
    app = make_celery(settings)  # the tasks run with these settings, not the environment's
    # A node name of its own per worker process: several workers on one host would
    # otherwise fight over the same exclusive control queue (celery@HOST.celery.pidbox).
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={args.concurrency}",
                     "-Q", ",".join(queue_name(settings, q) for q in queues),
                     "--without-gossip", "--without-mingle",
                     "-n", f"ecgread-{os.getpid()}@%h"])
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ecgread.cli.demo import run_demo

    return run_demo(_settings(args), args.file)


def _cmd_batch(args: argparse.Namespace) -> int:
    from ecgread.workers.batch import run_batch

    return run_batch(_settings(args), args.paths, stored=args.stored, since=args.since,
                     until=args.until, out=args.out, jobs=args.jobs, pdf=args.pdf,
                     deliver=args.deliver, progress=False if args.quiet else None)


def _when(text: str) -> datetime:
    from ecgread.workers.batch import parse_when

    try:
        return parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or date-time: {text!r}") from exc


def _until(text: str) -> datetime:
    from ecgread.workers.batch import parse_when

    try:
        return parse_when(text, end_of_day=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or date-time: {text!r}") from exc


def _audit_filters(args: argparse.Namespace) -> None:
    """Refuse a filter the query cannot apply (it would otherwise return everything)."""
    applies = _AUDIT_FILTERS[args.what]
    given = [name for name in ("patient", "accession", "sop", "status", "destination",
                               "trace", "since", "until") if getattr(args, name) is not None]
    if args.limit != 200:
        given.append("limit")
    wrong = [name for name in given if name not in applies]
    if wrong:
        allowed = ", ".join(f"--{f}" for f in sorted(applies)) or "none"
        raise ConfigError(f"audit {args.what}: {', '.join('--' + w for w in wrong)} does not "
                          f"apply here (filters of {args.what}: {allowed})")
    if args.sop and args.trace and args.sop != args.trace:
        raise ConfigError(f"audit {args.what}: --sop and --trace both name the trace ID; "
                          "give one")


def _cmd_audit(args: argparse.Namespace) -> int:
    from ecgread.audit import queries
    from ecgread.audit.anchor import open_audit
    from ecgread.audit.db import session_scope
    from ecgread.audit.verify import verify
    from ecgread.cli.startup import require_existing_database

    _audit_filters(args)
    settings = _settings(args)
    require_existing_database(settings)
    anchor = open_audit(settings)  # an older schema is brought up to date, never created
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
                                sop_instance_uid=args.sop, state=args.status, since=args.since,
                                until=args.until, limit=args.limit)
        elif args.what == "failed":
            rows = queries.failed_ecgs(s, patient_id=args.patient, since=args.since,
                                       until=args.until, limit=args.limit)
        elif args.what == "reads":
            rows = [read for read, _ in queries.reads(s, sop_instance_uid=args.sop,
                                                      patient_id=args.patient,
                                                      limit=args.limit)]
        elif args.what == "orders":
            rows = queries.orders(s, status=args.status, patient_id=args.patient,
                                  accession=args.accession, limit=args.limit)
        elif args.what == "deliveries":
            rows = queries.deliveries(s, state=args.status, destination=args.destination,
                                      patient_id=args.patient, sop_instance_uid=args.sop,
                                      limit=args.limit)
        else:
            rows = queries.events(s, trace_id=args.trace or args.sop, patient_id=args.patient,
                                  since=args.since, until=args.until, limit=args.limit)
        for row in rows:
            print(json.dumps(queries.row_dict(row), default=str))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from ecgread.cli.status import run_status

    return run_status(_settings(args), as_json=args.json)


def _cmd_db(args: argparse.Namespace) -> int:
    from ecgread.cli.startup import migrate_database

    settings = _settings(args)
    migrate_database(settings)
    print(f"audit database at newest revision: {mask_secret(settings.audit_url)}")
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    from ecgread.cli.health import CHECKS, run_health

    unknown = [c for c in args.checks if c not in CHECKS]
    if unknown:
        raise ConfigError(f"health: no check {', '.join(unknown)} (checks: {', '.join(CHECKS)})")
    return run_health(load_settings(_overrides(args)), args.checks)


def _cmd_config(args: argparse.Namespace) -> int:
    """One ``ECGREAD_X=value  # source`` line per setting, secrets masked."""
    overrides = _overrides(args)
    settings = load_settings(overrides)
    sources = setting_sources(overrides)
    for info in setting_infos():
        value = getattr(settings, info.name)
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        if info.secret:
            text = mask_secret(text)
        print(f"{info.env}={text}  # {sources[info.name]}")
    return 0


def _cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from ecgread.web.app import create_app

    settings = _settings(args)
    print(f"ecgread web: http://{settings.web_host}:{settings.web_port}/", file=sys.stderr,
          flush=True)
    uvicorn.run(create_app(settings), host=settings.web_host, port=settings.web_port,
                log_level="warning")
    return 0


def _cmd_user(args: argparse.Namespace) -> int:
    import getpass

    from ecgread.audit.db import migrate
    from ecgread.web.auth import add_user

    settings = _settings(args)
    migrate(settings.audit_url)
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("ecgread user: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    user = add_user(settings, args.name, password, args.role)
    print(f"user {user.username} ({user.role}) saved")
    return 0


_COMMANDS = {"analyze": _cmd_analyze, "serve": _cmd_serve, "worker": _cmd_worker,
             "demo": _cmd_demo, "batch": _cmd_batch, "audit": _cmd_audit, "db": _cmd_db,
             "config": _cmd_config, "health": _cmd_health, "web": _cmd_web,
             "user": _cmd_user, "status": _cmd_status}

if __name__ == "__main__":
    sys.exit(main())
