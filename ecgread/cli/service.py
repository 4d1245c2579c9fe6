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

from ecgread.audit.anchor import open_audit
from ecgread.audit.db import session_scope
from ecgread.audit.events import checkpoint
from ecgread.config.settings import Settings
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

    @property
    def dicom_port(self) -> int:
        return int(self.dicom_server.server_address[1])

    @property
    def hl7_port(self) -> int:
        return int(self.hl7_server.server_address[1])

    def stop(self) -> None:
        self.stop_event.set()
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
    from ecgread.integration import dicom_scp, hl7_listener
    from ecgread.integration.object_store import private_dir
    from ecgread.integration.recovery import unfinished_ecgs
    from ecgread.integration.security import check_production
    from ecgread.workers.outbox import run_outbox

    check_production(settings)
    for d in (settings.home, settings.store_dir, settings.reports_dir, settings.outbox_dir):
        private_dir(d)
    open_audit(settings)
    _checkpoint(settings, "start")
    _verify_models(settings)
    dispatcher = make_dispatcher(settings)
    pending = unfinished_ecgs(settings)
    for uid in pending:
        dispatcher.submit(uid)
    if pending:
        log.info("recovery: re-submitted %d unfinished ECG(s)", len(pending))
    stop_event = threading.Event()
    outbox = threading.Thread(target=run_outbox, args=(settings, stop_event, outbox_poll_s),
                              name="ecgread-outbox", daemon=True)
    outbox.start()
    dicom_server = dicom_scp.serve(settings, on_stored=dispatcher.submit, block=False)
    hl7_server = hl7_listener.serve(settings, block=False)
    service = Service(settings, dispatcher, dicom_server, hl7_server, stop_event, [outbox])
    log.info("listening: DICOM %s on port %d, HL7 MLLP on port %d, reads %s",
             settings.dicom_ae_title, service.dicom_port, service.hl7_port,
             "via broker" if settings.broker_url else "in process")
    return service
