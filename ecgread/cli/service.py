"""``ecgread serve``: the DICOM and HL7 listeners, the read dispatcher and the outbox.

Start-up order matters for "nothing is lost": migrate the database, start the dispatcher,
re-submit ECGs that were received but not finished, then open the listeners.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ecgread.audit.db import migrate
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
    from ecgread.integration.recovery import unfinished_ecgs
    from ecgread.workers.outbox import run_outbox

    for d in (settings.home, settings.store_dir, settings.reports_dir, settings.outbox_dir):
        d.mkdir(parents=True, exist_ok=True)
    migrate(settings.audit_url)
    _verify_models(settings)
    if settings.broker_url:
        from ecgread.workers.broker import broker_problem

        problem = broker_problem(settings)
        if problem:  # one line, no traceback: ECGs are still taken and handed off later
            log.error("%s; ECGs are received and stored, and handed to the broker when it "
                      "is back (retried every %g s)", problem, settings.handoff_retry_s)
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
    dicom_server = dicom_scp.serve(settings, on_stored=dispatcher.submit, block=False)
    hl7_server = hl7_listener.serve(settings, block=False)
    service = Service(settings, dispatcher, dicom_server, hl7_server, stop_event, [outbox], wake)
    log.info("listening: DICOM %s on port %d, HL7 MLLP on port %d, reads %s",
             settings.dicom_ae_title, service.dicom_port, service.hl7_port,
             "via broker" if settings.broker_url else "in process")
    return service
