"""Device agreement: our global measurements vs the acquiring device's own, on
pydicom's ``waveform_ecg.dcm`` (12 leads, 1000 Hz, 10 s).

The device values are read from the file's Waveform Annotation Sequence (0040,B020):
items whose Concept Name Code Sequence meaning is e.g. "PR Interval" carry a Numeric
Value (0040,A30A). Nothing is hard-coded. Targets (issue 3): PR and QRS within 10 ms,
QT within 15 ms, axes within 10 degrees.

Run::

    .venv/bin/python -m bench.device_agreement
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

# device concept name -> (our measurement, tolerance, unit)
ROWS = (
    ("RR Interval", "rr_ms", None, "ms"),
    ("PR Interval", "pr_ms", 10.0, "ms"),
    ("QRS Duration", "qrs_ms", 10.0, "ms"),
    ("QT Interval", "qt_ms", 15.0, "ms"),
    ("QTc Interval", "qtc_bazett_ms", None, "ms"),
    ("P Axis", "p_axis_deg", 10.0, "deg"),
    ("QRS Axis", "qrs_axis_deg", 10.0, "deg"),
    ("T Axis", "t_axis_deg", 10.0, "deg"),
)
_UNIT_TO_UV = {"uv": 1.0, "mv": 1000.0, "v": 1e6}


def device_values(ds: object) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in getattr(ds, "WaveformAnnotationSequence", []):
        cn = item.get("ConceptNameCodeSequence")
        if cn and "NumericValue" in item:
            out[str(cn[0].CodeMeaning)] = float(item.NumericValue)
    return out


def _decode_with_pydicom(path: str):  # noqa: ANN202 - bench-only fallback decoder
    import pydicom

    from ecgread.integration.wfdb_read import standard_lead_name
    from ecgread.models.ecg import Ecg

    ds = pydicom.dcmread(path)
    group = ds.WaveformSequence[0]
    arr = ds.waveform_array(0).T.astype(np.float64)  # sensitivity and baseline applied
    names, scales = [], []
    for ch in group.ChannelDefinitionSequence:
        label = ch.ChannelSourceSequence[0].CodeMeaning
        names.append(standard_lead_name(label.replace("Lead", "").strip()))
        unit = ch.ChannelSensitivityUnitsSequence[0].CodeValue.lower()
        scales.append(_UNIT_TO_UV.get(unit, 1.0))
    sig = (arr * np.asarray(scales)[:, None]).astype(np.float32)
    return Ecg(sig, float(group.SamplingFrequency), tuple(names), source=path), ds


def load(path: str):  # noqa: ANN201
    import pydicom

    if importlib.util.find_spec("ecgread.integration.dicom_decode") is not None:
        from ecgread.integration.dicom_decode import decode_file

        return decode_file(Path(path)), pydicom.dcmread(path), "ecgread.integration.dicom_decode"
    ecg, ds = _decode_with_pydicom(path)
    return ecg, ds, "pydicom waveform_array (bench fallback)"


def main(argv: list[str] | None = None) -> int:
    from pydicom.data import get_testdata_file

    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", nargs="?", default=None, help="DICOM ECG (default: pydicom's)")
    args = ap.parse_args(argv)
    path = args.path or get_testdata_file("waveform_ecg.dcm")
    ecg, ds, how = load(str(path))
    dev = device_values(ds)
    a = analyze(ecg, models=process_models())
    m = a.measurements
    print(f"device agreement: {Path(path).name}, {len(ecg.lead_names)} leads, "
          f"{ecg.sampling_rate_hz:g} Hz, {ecg.duration_s:.1f} s, decoded by {how}")
    print(f"{'measurement':<14} {'device':>8} {'ours':>8} {'diff':>8} {'target':>8}  result")
    all_ok = True
    for concept, ours_name, tol, unit in ROWS:
        d = dev.get(concept)
        o = getattr(m, ours_name)
        diff = None if d is None or o is None else o - d
        if unit == "deg" and diff is not None:
            diff = (diff + 180.0) % 360.0 - 180.0
        if tol is None:
            verdict = "(info)"
        elif diff is None:
            verdict = "NOT met (missing)"
            all_ok = False
        else:
            ok = abs(diff) <= tol
            all_ok &= ok
            verdict = "met" if ok else "NOT met"
        fmt = (lambda v: "n/a" if v is None else f"{v:.0f}")  # noqa: E731
        tol_s = "" if tol is None else f"±{tol:g}"
        print(f"{concept:<14} {fmt(d):>8} {fmt(o):>8} "
              f"{('n/a' if diff is None else f'{diff:+.0f}'):>8} {tol_s:>8}  {verdict}")
    print(f"HR ours {m.heart_rate_bpm:.1f} bpm; QTc ours: Bazett {m.qtc_bazett_ms:.0f}, "
          f"Fridericia {m.qtc_fridericia_ms:.0f} ms" if m.qtc_bazett_ms else "QTc: n/a")
    print("all targets met" if all_ok else "some targets NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
