"""``ecgread health``: is this node's listener or web app answering? (the containers'
healthcheck)

DICOM: a C-ECHO to our own AE title (PS3.7 9.1.5, Verification). HL7: an MLLP connection
accepted (nothing is sent, so nothing is recorded as received). Web: an HTTP GET of the
login page of ``ecgread web`` (no login, so no patient data and no audit event). Each check
prints one line; the exit status is 0 only when all pass. Without names, the listener's
checks run (``DEFAULT_CHECKS``): the web app is a service of its own.
"""

from __future__ import annotations

import http.client
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


def check_web(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """None when ``ecgread web`` serves its login page (HTTP 200 with the login form),
    else why not."""
    host = _local(settings.web_host)
    conn = http.client.HTTPConnection(host, settings.web_port, timeout=timeout_s)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        body = response.read(65536)
    except (OSError, http.client.HTTPException) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        return f"web http://{host}:{settings.web_port}/login: {why}"
    finally:
        conn.close()
    if response.status != 200 or b'name="password"' not in body:
        return (f"web http://{host}:{settings.web_port}/login answered {response.status} "
                "without the login form")
    return None


CHECKS = {"dicom": check_dicom, "hl7": check_mllp, "web": check_web}
#: What ``ecgread health`` checks without names: the listener (``ecgread serve``).
DEFAULT_CHECKS = ("dicom", "hl7")


def run_health(settings: Settings, which: list[str]) -> int:
    failed = 0
    for name in which or DEFAULT_CHECKS:
        problem = CHECKS[name](settings)
        print(f"{name}: {'ok' if problem is None else problem}")
        failed += problem is not None
    return 1 if failed else 0
