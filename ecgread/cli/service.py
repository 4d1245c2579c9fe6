"""``ecgread serve``: the DICOM and HL7 listeners, the read dispatcher and the outbox.

Start-up order matters for "nothing is lost": migrate the database, start the dispatcher,
re-submit ECGs that were received but not finished, then open the listeners.

Before anything, production mode is checked (allowlists, bind addresses, audit key:
:func:`ecgread.integration.security.check_production`); the audit chain gets a signed
checkpoint at start and at stop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ecgread.audit.anchor import use_anchor
from ecgread.audit.db import session_scope
from ecgread.audit.events import checkpoint
from ecgread.config.settings import Settings, mask_secret
from ecgread.errors import ConfigError
from ecgread.workers.dispatch import Dispatcher, make_dispatcher

log = logging.getLogger("ecgread.service")


@dataclass
class Service:
    settings: Settings
    dispatcher: Dispatcher
    dicom_server: Any
    hl7_server: Any
    stop_event: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)
    #: Set to run the outbox now (after a read); it also runs every ``outbox_poll_s``.
    outbox_wake: threading.Event = field(default_factory=threading.Event)

    @property
    def dicom_port(self) -> int:
        return int(self.dicom_server.server_address[1])

    @property
    def hl7_port(self) -> int:
        return int(self.hl7_server.server_address[1])

    def stop(self) -> None:
        self.stop_event.set()
        self.outbox_wake.set()
        self.dicom_server.shutdown()
        self.hl7_server.shutdown()
        self.hl7_server.server_close()
        for t in self.threads:
            t.join(timeout=10)
        self.dispatcher.close()
        _checkpoint(self.settings, "stop")


def _checkpoint(settings: Settings, reason: str) -> None:
    try:
        with session_scope(settings.audit_url) as session:
            checkpoint(session, reason)
    except Exception as exc:  # noqa: BLE001  never blocks a start or a stop
        log.error("audit checkpoint (%s) not written: %s", reason, type(exc).__name__)


def _verify_models(settings: Settings) -> None:
    """Verify the model registry before taking any ECG (raises ModelError naming the file).

    Reading in process, the sessions are created now; with a broker the workers create
    their own, so only the files and checksums are checked here.
    """
    from ecgread.workers.model_registry import load_registry
    from ecgread.workers.onnx_models import process_models

    if settings.broker_url:
        load_registry(settings.model_registry)
    else:
        process_models(settings.model_registry)


def start(settings: Settings, *, outbox_poll_s: float = 2.0) -> Service:
    """Start everything in the background and return a handle (ports resolved)."""
    from ecgread.cli.startup import (
        bind_error,
        check_broker,
        migrate_database,
        prepare_home,
        results_destination,
    )
    from ecgread.integration import dicom_scp, hl7_listener
    from ecgread.integration.object_store import private_dir
    from ecgread.integration.recovery import unfinished_ecgs
    from ecgread.integration.security import check_production
    from ecgread.workers.outbox import run_outbox

    check_production(settings)
    prepare_home(settings)
    for d in (settings.home, settings.store_dir, settings.reports_dir, settings.outbox_dir):
        private_dir(d)
    use_anchor(settings)  # before the migration, as open_audit does
    migrate_database(settings)
    _checkpoint(settings, "start")
    try:
        check_broker(settings)
    except ConfigError as exc:  # one line, and serve goes on: ECGs are taken and stored,
        # and their hand-offs are retried until the broker is back (workers.dispatch.HandOff)
        log.error("%s; ECGs are received and stored, and handed to the broker when it is "
                  "back (retried every %g s)", exc, settings.handoff_retry_s)
    _verify_models(settings)
    wake = threading.Event()
    dispatcher = make_dispatcher(settings, on_read=wake.set)
    pending = unfinished_ecgs(settings)
    for uid in pending:
        dispatcher.submit(uid)
    if pending:
        log.info("recovery: re-submitted %d unfinished ECG(s)", len(pending))
    stop_event = threading.Event()
    outbox = threading.Thread(target=run_outbox, args=(settings, stop_event, outbox_poll_s, wake),
                              name="ecgread-outbox", daemon=True)
    outbox.start()
    dicom_server = hl7_server = None
    try:
        try:
            dicom_server = dicom_scp.serve(settings, on_stored=dispatcher.submit, block=False)
        except OSError as exc:
            raise bind_error("dicom_port", "DICOM", settings.dicom_host, settings.dicom_port,
                             exc) from None
        try:
            hl7_server = hl7_listener.serve(settings, block=False)
        except OSError as exc:
            raise bind_error("hl7_port", "HL7 MLLP", settings.hl7_host, settings.hl7_port,
                             exc) from None
    except BaseException:
        stop_event.set()
        if dicom_server is not None:
            dicom_server.shutdown()
        dispatcher.close()
        raise
    service = Service(settings, dispatcher, dicom_server, hl7_server, stop_event, [outbox], wake)
    log.info("listening: DICOM %s on %s:%d, HL7 MLLP on %s:%d; reads %s; %s",
             settings.dicom_ae_title, settings.dicom_host, service.dicom_port,
             settings.hl7_host, service.hl7_port,
             f"via broker {mask_secret(settings.broker_url)}" if settings.broker_url
             else "in process", results_destination(settings))
    return service
