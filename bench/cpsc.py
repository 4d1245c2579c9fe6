"""CPSC 2018 benchmark: our statements against the cardiologists' labels of 10 12-lead ECGs.

Data: records A1980-A1989 of the China Physiological Signal Challenge 2018 training set in
``../shared/data/cpsc2018`` (Liu F et al., J Med Imaging Health Inform 2018;8:1368; public
for research, also in the PhysioNet/CinC Challenge 2020 under CC BY 4.0): 12 leads, 500 Hz,
10-54 s, in mV, with the patient's sex and age; labels 1st-degree AV block, RBBB, ST
depression, PAC and normal. Each record is read whole by :func:`analyze` (default
delineator) with its sex and age.

Per record: the label(s), our statements, and whether our statements contain the label's
codes (:data:`LABEL_CODES`). Per class, over the 10 records: labelled, found (true
positives), missed, and called on a record without that label (false positives). The data
set is small: these figures are a check, not an accuracy estimate.

Run::

    .venv/bin/python -m bench.cpsc
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from ecgread.models.ecg import STANDARD_LEADS, Acquisition, Ecg

#: Where CI and developers find the data: ../shared/data/cpsc2018 beside the checkout.
CPSC_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cpsc2018"
FS_HZ = 500.0
#: CPSC label number -> (name, our statement codes that agree with it).
LABEL_CODES: dict[int, tuple[str, frozenset[str]]] = {
    1: ("Normal", frozenset({"NORMAL", "OTHERWISE_NORMAL"})),
    2: ("AF", frozenset({"AF"})),
    3: ("I-AVB", frozenset({"1AVB"})),
    4: ("LBBB", frozenset({"LBBB"})),
    5: ("RBBB", frozenset({"RBBB"})),
    6: ("PAC", frozenset({"PAC"})),
    7: ("PVC", frozenset({"PVC", "VBIGEMINY", "PVC_COUPLET"})),
    8: ("STD", frozenset({"ST_DEP"})),
    9: ("STE", frozenset({"STEMI_ANT", "STEMI_INF", "STEMI_LAT"})),
}


def available() -> bool:
    return any(CPSC_DIR.glob("REFERENCE*.csv"))


def labels() -> dict[str, tuple[int, ...]]:
    """Record name -> its CPSC label numbers (first, second, third)."""
    out: dict[str, tuple[int, ...]] = {}
    for ref in sorted(CPSC_DIR.glob("REFERENCE*.csv")):
        with open(ref, newline="") as f:
            for row in csv.DictReader(f):
                out[row["Recording"]] = tuple(
                    int(row[k]) for k in ("First_label", "Second_label", "Third_label")
                    if (row.get(k) or "").strip())
    return out


def read_record(name: str) -> Ecg:
    """One CPSC record (MATLAB struct ECG{sex, age, data 12 x N in mV}) as an Ecg in µV."""
    import scipy.io

    m = scipy.io.loadmat(str(CPSC_DIR / f"{name}.mat"))["ECG"][0, 0]
    sex = str(np.ravel(m["sex"])[0]).strip().upper()[:1] if np.size(m["sex"]) else None
    age = float(np.ravel(m["age"])[0]) if np.size(m["age"]) else None
    signal_uv = (np.asarray(m["data"], dtype=np.float64) * 1000.0).astype(np.float32)
    return Ecg(signal_uv, FS_HZ, STANDARD_LEADS,
               Acquisition(patient_sex=sex if sex in ("M", "F") else None,
                           patient_age_years=age if age is not None and age > 0 else None),
               source=f"cpsc2018:{name}")


def agrees(label: int, codes: set[str]) -> bool:
    return bool(LABEL_CODES[label][1] & codes)


def main(argv: list[str] | None = None) -> None:
    from ecgread.models.analysis import analyze
    from ecgread.workers.onnx_models import process_models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.parse_args(argv)
    if not available():
        raise SystemExit(f"CPSC 2018 records not found at {CPSC_DIR}")
    refs = labels()
    print(f"CPSC 2018, {len(refs)} cardiologist-labelled 12-lead ECGs (500 Hz); 'ok' when our "
          f"statements contain the label's codes")
    print(f"{'record':<7} {'s':>3} {'label':<7} {'ok':<3} {'HR':>4} {'PR':>4} {'QRS':>4} "
          f"{'QTc':>4}  our statements")
    ours: dict[str, set[str]] = {}
    critical: list[str] = []
    for name, labs in refs.items():
        a = analyze(read_record(name), models=process_models())
        codes = {s.code for s in a.statements}
        ours[name] = codes
        critical += [f"{name} {s.code}" for s in a.statements if s.critical]
        m = a.measurements
        cells = [f"{v:4.0f}" if v is not None else " n/a" for v in
                 (m.heart_rate_bpm, m.pr_ms, m.qrs_ms, m.qtc_bazett_ms)]
        label = "+".join(LABEL_CODES[x][0] for x in labs)
        ok = "yes" if all(agrees(x, codes) for x in labs) else "NO"
        print(f"{name:<7} {a.ecg.duration_s:3.0f} {label:<7} {ok:<3} {' '.join(cells)}  "
              + " ".join(s.code for s in a.statements))
    print(f"{'class':<7} {'labelled':>8} {'found':>6} {'missed':>6} {'called on others':>17}")
    for num, (cls, _) in LABEL_CODES.items():
        pos = [n for n, labs in refs.items() if num in labs]
        tp = sum(agrees(num, ours[n]) for n in pos)
        fp = sum(agrees(num, ours[n]) for n in refs if n not in pos)
        if pos or fp:
            print(f"{cls:<7} {len(pos):>8} {tp:>6} {len(pos) - tp:>6} {fp:>17}")
    n_ok = sum(all(agrees(x, ours[n]) for x in labs) for n, labs in refs.items())
    print(f"records whose label we give: {n_ok}/{len(refs)}; critical statements (none of "
          f"these ECGs is labelled STE): {', '.join(critical) or 'none'}")


if __name__ == "__main__":
    main()
