"""C-STORE of a report to PACS (pynetdicom SCU), for the outbox's ``pacs`` deliveries.

With ``pacs_tls`` the association runs over TLS (PS3.15 B.9 BCP 195 profile,
:func:`integration.security.client_context`: the PACS certificate verified, its name
checked against ``pacs_host``, ours offered).

One association per object (PS3.8 7.1): A-ASSOCIATE-RQ from ``dicom_ae_title`` to
``pacs_ae_title`` at ``pacs_host:pacs_port``, proposing the object's SOP class with Explicit
and Implicit VR Little Endian (PS3.5 10.1, A.2), C-STORE (PS3.7 9.1.1), A-RELEASE.

What the outbox may retry raises :class:`ecgread.errors.DeliveryError`: nothing listening,
association rejected or aborted, no presentation context accepted, no C-STORE response
within ``ack_timeout_s``. A C-STORE response is returned as its Status (0000,0900) for the
outbox to judge (PS3.4 B.2.3: 0x0000 success, 0xB0xx warning, else failure).

Example
-------
>>> status = send_to_pacs(settings, dataset)  # doctest: +SKIP
>>> status == 0  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE

from ecgread.config.settings import Settings
from ecgread.errors import DeliveryError
from ecgread.integration.security import client_context

__all__ = ["send_to_pacs"]

log = logging.getLogger("ecgread.pacs")


def _target(settings: Settings) -> str:
    return f"{settings.pacs_ae_title}@{settings.pacs_host}:{settings.pacs_port}"


def send_to_pacs(settings: Settings, ds: Dataset) -> int:
    """Store ``ds`` at the configured PACS; returns the C-STORE response Status.

    Parameters
    ----------
    settings:
        ``pacs_host``, ``pacs_port``, ``pacs_ae_title`` (called AE), ``dicom_ae_title``
        (calling AE), ``ack_timeout_s`` (ACSE, DIMSE and network timeouts, s).
    ds:
        The object, with ``SOPClassUID`` and ``SOPInstanceUID``.

    Returns
    -------
    int
        Status (0000,0900) of the C-STORE-RSP.

    Raises
    ------
    DeliveryError
        Association not established (refused, rejected, aborted, timed out), no accepted
        presentation context for the SOP class, or no C-STORE response.
    """
    target = _target(settings)
    ae = AE(ae_title=settings.dicom_ae_title)
    ae.acse_timeout = settings.ack_timeout_s
    ae.dimse_timeout = settings.ack_timeout_s
    ae.network_timeout = settings.ack_timeout_s
    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    ae.add_requested_context(str(ds.SOPClassUID), syntaxes)
    tls = (client_context(settings), settings.pacs_host) if settings.pacs_tls else None
    assoc = ae.associate(settings.pacs_host, settings.pacs_port,
                         ae_title=settings.pacs_ae_title, tls_args=tls)
    if not assoc.is_established:
        why = ("rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted
               else "not established (no answer or connection refused)")
        raise DeliveryError(f"PACS {target}: association {why}")
    try:
        if not assoc.accepted_contexts:
            raise DeliveryError(f"PACS {target}: SOP class {ds.SOPClassUID} not accepted")
        try:
            response = assoc.send_c_store(ds)
        except (ValueError, RuntimeError) as exc:  # no context; association lost meanwhile
            raise DeliveryError(f"PACS {target}: C-STORE not sent: {exc}") from exc
        if "Status" not in response:  # empty: DIMSE timeout, abort, invalid response
            raise DeliveryError(f"PACS {target}: no C-STORE response")
        status = int(response.Status)
        log.info("C-STORE to %s: status 0x%04X", target, status)
        return status
    finally:
        if assoc.is_established:
            assoc.release()
