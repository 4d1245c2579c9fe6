"""``ecgread health``: is this node's listener answering? (the containers' healthcheck)

DICOM: a C-ECHO to our own AE title (PS3.7 9.1.5, Verification). HL7: an MLLP connection
accepted (nothing is sent, so nothing is recorded as received). Each check prints one
line; the exit status is 0 only when all pass.
"""

from __future__ import annotations

import logging
import socket

from ecgread.config.settings import Settings


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def check_dicom(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """None when the DICOM listener answers a C-ECHO with Success, else why not."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # our one line says it all
    ae = AE(ae_title="ECGREAD-HEALTH")
    ae.acse_timeout = ae.network_timeout = ae.dimse_timeout = timeout_s
    ae.add_requested_context(Verification)
    host = _local(settings.dicom_host)
    assoc = ae.associate(host, settings.dicom_port, ae_title=settings.dicom_ae_title)
    if not assoc.is_established:
        return f"no association with {settings.dicom_ae_title}@{host}:{settings.dicom_port}"
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if not status or int(status.Status) != 0:
        return f"C-ECHO to {host}:{settings.dicom_port} not answered with Success"
    return None


def check_mllp(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """None when the HL7 MLLP listener accepts a connection, else why not."""
    host = _local(settings.hl7_host)
    try:
        socket.create_connection((host, settings.hl7_port), timeout=timeout_s).close()
    except OSError as exc:
        return f"MLLP {host}:{settings.hl7_port}: {exc.strerror or type(exc).__name__}"
    return None


# HOOK (web): when an `ecgread web` app exists, add `check_web(settings)` here (an HTTP GET
# of its health URL on the web port setting) and a "web" entry in CHECKS; the compose
# file's web service then uses `ecgread health web` as its healthcheck.
CHECKS = {"dicom": check_dicom, "hl7": check_mllp}


def run_health(settings: Settings, which: list[str]) -> int:
    failed = 0
    for name in which or list(CHECKS):
        problem = CHECKS[name](settings)
        print(f"{name}: {'ok' if problem is None else problem}")
        failed += problem is not None
    return 1 if failed else 0
