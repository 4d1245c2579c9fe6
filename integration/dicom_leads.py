"""Lead names for DICOM waveform channels.

A channel's lead is given by its Channel Source Sequence (003A,0208) code (PS3.16 CID 3001
"ECG Leads"): SCP-ECG codes ``5.6.3-9-<n>`` (scheme SCPECG) or ISO/IEEE 11073 MDC codes
(``2:<n>`` or the context-free ``131072 + n``, scheme MDC), where ``n`` is the SCP-ECG lead
number (EN 1064 / ISO 11073-91064 Table 5), the same number in both schemes. The Code
Meaning ("Lead I (Einthoven)", "Lead aVR") and the Channel Label (003A,0203) are the
fallbacks, in that order.
"""

from __future__ import annotations

import re
from typing import Any

from ecgread.integration.wfdb_read import standard_lead_name

__all__ = ["channel_lead_name", "SCPECG_LEAD_NUMBERS"]

#: SCP-ECG lead numbers (EN 1064 Table 5) of the leads we name; the rest keep their labels.
SCPECG_LEAD_NUMBERS: dict[int, str] = {
    1: "I", 2: "II", 61: "III", 62: "aVR", 63: "aVL", 64: "aVF",
    3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6",
    9: "V7", 66: "V8", 67: "V9", 10: "V2R", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R",
    15: "V7R", 65: "-aVR", 16: "X", 17: "Y", 18: "Z",
}

_SCPECG_CODE = re.compile(r"^5\.6\.3-9-(\d+)$")
_MDC_CODE = re.compile(r"^2:(\d+)$")
_MDC_LEAD_BASE = 2 << 16  # partition 2 (MDC_PART_ECG), context-free code = 131072 + n
_PARENTHETICAL = re.compile(r"\s*\(.*?\)\s*")


def _from_code(value: str, scheme: str) -> str | None:
    value = value.strip()
    scheme = scheme.strip().upper()
    number: int | None = None
    if m := _SCPECG_CODE.match(value):
        number = int(m.group(1))
    elif scheme == "MDC" and (m := _MDC_CODE.match(value)):
        number = int(m.group(1))
    elif scheme == "MDC" and value.isdigit() and _MDC_LEAD_BASE < int(value) < _MDC_LEAD_BASE + 256:
        number = int(value) - _MDC_LEAD_BASE
    return SCPECG_LEAD_NUMBERS.get(number) if number is not None else None


def _from_text(text: str) -> str | None:
    """``"Lead I (Einthoven)"`` -> ``"I"``; ``"aVR (Goldberger)"`` -> ``"aVR"``; else None."""
    cleaned = _PARENTHETICAL.sub(" ", text).strip()
    if not cleaned:
        return None
    name = standard_lead_name(cleaned)
    if name == cleaned and cleaned.lower().startswith("lead "):
        name = cleaned[5:].strip()  # a non-standard lead keeps its label, less "Lead "
    return name or None


def channel_lead_name(channel: Any, index: int) -> str:
    """The lead name of one Channel Definition Sequence item (``index`` counts from 0).

    Standard leads get the names of ``models.ecg.STANDARD_LEADS``; other leads keep their
    source label; a channel with no label at all is called ``ch<index+1>``.
    """
    source = channel.get("ChannelSourceSequence")
    item = source[0] if source else None
    if item is not None:
        code = _from_code(str(item.get("CodeValue", "") or ""),
                          str(item.get("CodingSchemeDesignator", "") or ""))
        if code:
            return code
        meaning = _from_text(str(item.get("CodeMeaning", "") or ""))
        if meaning:
            return meaning
    label = _from_text(str(channel.get("ChannelLabel", "") or ""))
    return label or f"ch{index + 1}"
