"""The cyclic garbage collector paused while a report's object tree is alive.

WeasyPrint's document (boxes, styles, the SVG) and hl7apy's message live through their
whole build and are garbage only at its end. With the collector running, its young
generations promote them and full collections scan the whole process for them (about
50 ms each, every few reports) while nothing in them can be freed yet. Paused, they stay
in the youngest generation and one young collection at the end frees the cycles they
leave.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause automatic collection in the block, then collect the youngest generation.

    Nothing changes when the collector was already disabled (the caller's choice). Keep
    references to the block's big objects inside it (a function called in it), so they
    are garbage when it ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)
