"""Sample HL7 order messages for the HL7 tests, built field by field so positions are exact.

``segment("OBR", {2: "PO1^EHR", 18: "ACC1"})`` gives ``OBR||PO1^EHR|...|ACC1`` with OBR-18
really in position 18. The samples imitate what EHRs send: an Epic-style ORM^O01 v2.3.1
with PV1, DG1 and a ZDS, and an IHE-style OMG^O19 v2.5.1 with TQ1, IPC and a local Z-segment.
"""

from __future__ import annotations


def segment(name: str, fields: dict[int, str]) -> str:
    """One ER7 segment with ``fields[n]`` at position n (for MSH, n >= 3)."""
    if not fields:
        return name
    top = max(fields)
    if name == "MSH":
        values = [fields.get(n, "") for n in range(3, top + 1)]
        return "MSH|^~\\&|" + "|".join(values)
    return name + "|" + "|".join(fields.get(n, "") for n in range(1, top + 1))


def msh(control_id: str, kind: str = "ORM^O01", version: str = "2.3.1", *,
        sender: str = "EPIC", facility: str = "UMC", when: str = "20240105083000",
        extra: dict[int, str] | None = None) -> str:
    fields = {3: sender, 4: facility, 5: "ECGREAD", 6: "CARDIOLOGY", 7: when, 9: kind,
              10: control_id, 11: "P", 12: version}
    fields.update(extra or {})
    return segment("MSH", fields)


def message(*segments: str, separator: str = "\r") -> bytes:
    return (separator.join(segments) + separator).encode("utf-8")


PID_EPIC = segment("PID", {1: "1", 3: "E12345^^^EPI^PI~MRN778899^^^UMC^MR",
                           5: "DOE^JANE^A", 7: "19580214", 8: "F",
                           11: "12 MAIN ST^^SPRINGFIELD^IL^62701", 13: "(217)555-0100"})
PV1_EPIC = segment("PV1", {1: "1", 2: "O", 3: "CARDCLIN^^^UMC", 7: "1234^SMITH^JOHN^^^DR",
                           10: "CAR", 18: "OP", 19: "V000111"})
DG1_EPIC = segment("DG1", {1: "1", 2: "I10", 3: "R07.9^Chest pain, unspecified^I10"})


def orm_o01(control_id: str = "ORM0001", placer: str = "PLC1001", *, control: str = "NW",
            accession: str = "ACC55501", version: str = "2.3.1", pid: str = PID_EPIC,
            start: str = "20240105090000", orc_extra: dict[int, str] | None = None) -> bytes:
    """An Epic-style ORM^O01 for one 12-lead ECG."""
    orc = {1: control, 2: f"{placer}^EPIC", 3: "FIL2002^MUSE", 5: "SC",
           7: f"^^^{start}^^R", 9: "20240105082955", 12: "1234^SMITH^JOHN^^^DR"}
    orc.update(orc_extra or {})
    return message(
        msh(control_id, "ORM^O01", version, extra={15: "AL", 16: "NE"}), pid, PV1_EPIC,
        segment("ORC", orc),
        segment("OBR", {1: "1", 2: f"{placer}^EPIC", 3: "FIL2002^MUSE",
                        4: "93000^ECG 12-LEAD^CPT", 16: "1234^SMITH^JOHN^^^DR",
                        18: accession}),
        DG1_EPIC, segment("ZDS", {1: "1.2.840.113619.2.55.3.1234^EPIC^Application^DICOM"}))


def omg_o19(control_id: str = "OMG0001", placer: str = "PO200", *, control: str = "NW",
            accession: str = "ACC200", patient: str = "P200",
            start: str = "20240105110000+0100") -> bytes:
    """An IHE-style OMG^O19 v2.5.1 with TQ1 and IPC, and a local Z-segment."""
    return message(
        msh(control_id, "OMG^O19^OMG_O19", "2.5.1", sender="HIS", facility="HOSP",
            when="20240105101500+0100", extra={15: "AL", 16: "AL", 18: "UNICODE UTF-8"}),
        segment("PID", {1: "1", 3: f"{patient}^^^HOSP^MR", 5: "MUSTERMANN^MAX",
                        7: "19700101", 8: "M"}),
        segment("PV1", {1: "1", 2: "I", 3: "WARD1"}),
        segment("ORC", {1: control, 2: f"{placer}^HIS", 9: "20240105101500+0100",
                        12: "77^DOC^ANNA"}),
        segment("TQ1", {1: "1", 7: start, 9: "R"}),
        segment("OBR", {1: "1", 2: f"{placer}^HIS", 4: "ECG12^Resting 12-lead ECG^L",
                        16: "77^DOC^ANNA"}),
        segment("IPC", {1: accession, 2: "REQ200", 3: "1.2.3.4.5.200", 4: "SPS200", 5: "ECG"}),
        segment("ZXX", {1: "local", 2: "stuff"}))


def adt_a01(control_id: str = "ADT0001") -> bytes:
    return message(msh(control_id, "ADT^A01", "2.5.1"),
                   segment("EVN", {1: "A01", 2: "20240105083000"}), PID_EPIC, PV1_EPIC)
