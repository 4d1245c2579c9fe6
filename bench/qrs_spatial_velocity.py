"""Global QRS onset and offset from the spatial velocity: the thresholds compared.

``models.qrs_spatial`` (adopted 2026-12-02) refines our per-lead global QRS with the spatial
velocity at 3 %, each boundary moved by at most 20 ms; the "ours" column below is that
read. The spatial-velocity columns are the raw boundaries at other thresholds, without the
20 ms limit, for comparison.

The representative beat of every usable lead (``analyze(...).representative_beat``,
diagnostic bandwidth) is low-passed at 40 Hz; its spatial velocity is the sum over the
leads of the absolute first difference (µV/ms). With the floor at its 10th percentile over
the beat, the QRS onset is the last sample before the velocity peak (searched from 30 ms
before our onset to 30 ms after our offset) below floor + f x (peak - floor), the offset
the first such sample after it. This is the J point of commercial programs' global
signal (Laguna P et al. Automatic detection of wave boundaries in multilead ECG signals:
validation with the CSE database. Comput Biomed Res 1994;27:45-60; the spatial-velocity
boundaries of the CSE programs, Willems JL et al. Circulation 1985;71:523-534).

Printed: per vendor ECG (``../shared/data/vendor``, one per distinct signal, and pydicom's
Mortara sample) ours and the spatial-velocity QRS minus the vendor's, for several f; on
the LUDB split, mean ± SD of the difference to the expert reference of
``bench.global_intervals_ludb`` (earliest onset to latest offset over the leads), and the
onset and offset shifts against ours.

With ``--qtdb`` also on the QT Database (real amplitudes, two leads; the QRS onset and
offset the cardiologist marked per beat on both leads together, median per record).

Run::

    .venv/bin/python -m bench.qrs_spatial_velocity [--records test] [--qtdb]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

FRACTIONS = ((0.02, 0.02), (0.03, 0.03), (0.05, 0.05), (0.05, 0.10), (0.10, 0.10))
VENDOR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vendor"


def sv_bounds(beat_uv: np.ndarray, fs: float, start_s: float, on_s: float | None,
              off_s: float | None, f_on: float, f_off: float) -> tuple[float, float]:
    """QRS onset and offset (s from the fiducial) of a (leads, W) beat by spatial velocity."""
    from scipy import signal as sps

    sos = sps.butter(2, min(40.0, 0.4 * fs), fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, beat_uv, axis=1)
    v = np.abs(np.gradient(y, axis=1)).sum(axis=0) * fs / 1000.0
    fid = int(round(-start_s * fs))
    lo = max(1, fid + int(round(((on_s if on_s is not None else -0.06) - 0.03) * fs)))
    hi = min(v.size - 1, fid + int(round(((off_s if off_s is not None else 0.06) + 0.03) * fs)))
    pk = lo + int(np.argmax(v[lo:hi]))
    floor = float(np.percentile(v, 10))
    i = pk
    while i > 0 and v[i] > floor + f_on * (v[pk] - floor):
        i -= 1
    j = pk
    while j < v.size - 1 and v[j] > floor + f_off * (v[pk] - floor):
        j += 1
    return (i - fid) / fs, (j - fid) / fs


def _beat(a):  # type: ignore[no-untyped-def]
    rb = a.representative_beat
    if not rb or a.measurements.qrs_ms is None:
        return None
    usable = {q.lead for q in a.quality.leads if q.usable}
    x = np.stack([v for n, v in rb["leads"].items() if n in usable])
    return x, rb["sampling_rate_hz"], rb["start_s"], rb["fiducials_s"], a.measurements.qrs_ms


def _cases(records: str):  # type: ignore[no-untyped-def]
    """(name, beat, reference QRS ms, group) for the vendor ECGs, Mortara and LUDB."""
    from pydicom.data import get_testdata_file

    from bench.device_agreement import device_values, load
    from bench.global_intervals_ludb import reference
    from ecgread.errors import DecodeError
    from ecgread.integration import ludb
    from ecgread.integration.ecg_files import find_ecg_files, read_ecg_file
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    seen: set[str] = set()
    for path in find_ecg_files(VENDOR):
        try:
            ecg = read_ecg_file(path)
        except DecodeError:
            continue
        digest = hashlib.sha256(ecg.signal_uv.tobytes()).hexdigest()
        if ecg.vendor_read is None or digest in seen or ecg.vendor_read.qrs_ms is None:
            continue
        seen.add(digest)
        yield path.name, _beat(analyze(ecg, models=models)), ecg.vendor_read.qrs_ms, "vendor"
    ecg, ds, _ = load(str(get_testdata_file("waveform_ecg.dcm")))
    dev = device_values(ds)
    qrs = dev.get("QRS Duration")
    if qrs is not None:
        yield "mortara (pydicom)", _beat(analyze(ecg, models=models)), qrs, "vendor"
    for rid in ludb.record_ids():
        if records != "all" and ludb.split(rid) != records:
            continue
        ref = reference(ludb.expert_waves(rid))["qrs_ms"]
        if ref is not None:
            yield f"ludb {rid}", _beat(analyze(ludb.read_record(rid), models=models)), ref, \
                "ludb"


def qtdb_cases():  # type: ignore[no-untyped-def]
    """(name, beat, reference QRS ms) on QTDB: real amplitudes, two leads, the QRS onset and
    offset the cardiologist marked per beat looking at both leads (``bench.qtdb``)."""
    from bench import qtdb
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    models = process_models()
    for name in qtdb.record_names():
        ref = qtdb.marked_global_ms(qtdb.marked_beats(name))["qrs_ms"]
        if ref is not None:
            yield name, _beat(analyze(qtdb.global_window(name), models=models)), ref


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", choices=("tune", "test", "all"), default="test")
    ap.add_argument("--qtdb", action="store_true",
                    help="also the global QRS against the QTDB cardiologists' marks")
    args = ap.parse_args(argv)
    ludb_d: dict[tuple[float, float], list[float]] = {f: [] for f in FRACTIONS}
    ours_ludb: list[float] = []
    shifts: list[tuple[float, float]] = []
    print("QRS minus reference, ms: ours, then spatial velocity at f_on/f_off "
          + " ".join(f"{a:g}/{b:g}" for a, b in FRACTIONS))
    for name, beat, ref, group in _cases(args.records):
        if beat is None:
            continue
        x, fs, start, fid, ours = beat
        on, off = fid.get("qrs_onset"), fid.get("qrs_offset")
        sv = [sv_bounds(x, fs, start, on, off, a, b) for a, b in FRACTIONS]
        d = [1000 * (e - s) - ref for s, e in sv]
        if group == "vendor":
            print(f"{name[:36]:<36} ref {ref:5.0f}  ours {ours - ref:+4.0f}  sv "
                  + " ".join(f"{v:+4.0f}" for v in d))
        else:
            ours_ludb.append(ours - ref)
            for f, v in zip(FRACTIONS, d, strict=True):
                ludb_d[f].append(v)
            if on is not None and off is not None:
                shifts.append((1000 * (sv[0][0] - on), 1000 * (sv[0][1] - off)))
    o = np.asarray(ours_ludb)
    print(f"\nLUDB {args.records} (n={o.size}): ours {o.mean():+.1f} ± {o.std():.1f}")
    for f, v in ludb_d.items():
        a = np.asarray(v)
        print(f"  spatial velocity {f[0]:g}/{f[1]:g}: {a.mean():+.1f} ± {a.std():.1f}, "
              f"|d| > 25 ms: {int((np.abs(a) > 25).sum())}")
    s = np.asarray(shifts)
    print(f"  spatial velocity (0.05) minus ours: onset {s[:, 0].mean():+.1f} ± "
          f"{s[:, 0].std():.1f}, offset {s[:, 1].mean():+.1f} ± {s[:, 1].std():.1f} ms")
    if args.qtdb:
        q_ours: list[float] = []
        q_sv: dict[tuple[float, float], list[float]] = {f: [] for f in FRACTIONS}
        for _, beat, ref in qtdb_cases():
            if beat is None:
                continue
            x, fs, start, fid, ours = beat
            q_ours.append(ours - ref)
            for f in FRACTIONS:
                s, e = sv_bounds(x, fs, start, fid.get("qrs_onset"), fid.get("qrs_offset"), *f)
                q_sv[f].append(1000 * (e - s) - ref)
        o = np.asarray(q_ours)
        print(f"\nQTDB global QRS (n={o.size}, cardiologist's marks): ours {o.mean():+.1f} ± "
              f"{o.std():.1f}, |d| > 25 ms: {int((np.abs(o) > 25).sum())}")
        for f, v in q_sv.items():
            a = np.asarray(v)
            print(f"  spatial velocity {f[0]:g}/{f[1]:g}: {a.mean():+.1f} ± {a.std():.1f}, "
                  f"|d| > 25 ms: {int((np.abs(a) > 25).sum())}")
    print("IEC 60601-2-25 goal on LUDB: mean ±10, SD 10 ms; vendor target: within 10 ms")


if __name__ == "__main__":
    main()
