"""Start-up recovery: ECGs that were received (acknowledged to the sender) but whose read
never finished, so ``ecgread serve`` hands them to the readers again. Nothing is lost:
the listener commits the ``ecg`` row (state ``received``) before it returns Success.
"""

from __future__ import annotations

from sqlmodel import col, select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import EcgRecord
from ecgread.config.settings import Settings

__all__ = ["UNFINISHED_STATES", "unfinished_ecgs"]

#: ``ecg.state`` values of work that is not done (``reported`` and ``failed`` are done).
UNFINISHED_STATES: tuple[str, ...] = ("received", "reading")


def unfinished_ecgs(settings: Settings) -> list[str]:
    """SOP Instance UIDs of ECGs in an unfinished state, oldest first.

    Example
    -------
    >>> for uid in unfinished_ecgs(settings):  # doctest: +SKIP
    ...     dispatcher.submit(uid)
    """
    with session_scope(settings.audit_url) as session:
        rows = session.exec(
            select(EcgRecord.sop_instance_uid)
            .where(col(EcgRecord.state).in_(UNFINISHED_STATES))
            .order_by(col(EcgRecord.id))
        ).all()
    return [str(uid) for uid in rows]
