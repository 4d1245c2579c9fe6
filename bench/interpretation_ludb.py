"""Statements against the cardiologists' diagnoses of LUDB (ludb.csv), per split.

Run: ``.venv/bin/python -m bench.interpretation_ludb`` (about a minute on 2 cores).

For each of the LUDB records in ../shared/data/ludb: read it, put the patient's sex and age
from ludb.csv into the acquisition (as a DICOM header or order would), run
``models.analysis.analyze`` (which calls ``models.interpret.interpret``), and compare the
statement codes with the diagnoses. Prints, for the 'tune' and 'test' splits of
``ecgread.integration.ludb.split`` separately, Se, Sp, TP, FN, FP, TN per diagnosis, the rhythm
disagreement rate, and the number of statements whose evidence failed ``check_evidence``.

Mapping of ludb.csv diagnoses (column: a line of the cell) to statement codes
------------------------------------------------------------------------------
- sinus rhythm: Rhythms "Sinus rhythm" -> SR
- sinus bradycardia: Rhythms "Sinus bradycardia" -> SBRAD
- sinus tachycardia: Rhythms "Sinus tachycardia" -> STACH
- AF or flutter: Rhythms "Atrial fibrillation" or "Atrial flutter..." -> AF, AFL
- 1st-degree AV block: Conduction abnormalities "I degree av block" -> 1AVB
- complete AV block: Conduction abnormalities "Iii degree av-block" -> 3AVB
- complete RBBB / LBBB: "Complete right / left bundle branch block" -> RBBB / LBBB
- incomplete RBBB: "Incomplete right bundle branch block" -> IRBBB
- LAFB: Conduction abnormalities "Left anterior hemiblock" -> LAFB
- left / right axis deviation: Electric axis "...: left / right axis deviation" -> LAD / RAD
- LVH: Hypertrophies "Left ventricular hypertrophy" -> LVH (any certainty)
- left atrial enlargement: Hypertrophies "Left atrial hypertrophy" or "...overload" -> LAE
- paced rhythm: Cardiac pacing, any entry -> APACED, VPACED, AVPACED
- ventricular extrasystoles: Extrasystolies "Ventricular extrasystole..." -> PVC, VBIGEMINY,
  PVC_COUPLET, NSVT, VT
- STEMI: Ischemia "Stemi: ..." -> STEMI_ANT, STEMI_INF, STEMI_LAT
- scar (Q-wave infarct): Ischemia "Scar formation: ..." -> MI_ANT, MI_INF, MI_LAT (records
  labelled "Undefined ischemia/scar/supp.nstemi" or STEMI count as without scar)

Amplitude calibration: in the copy of LUDB in ../shared/data/ludb every header gives each
lead its own gain (400-2300 /mV) and baseline, and with those the limb leads break Einthoven's
law (II = I + III; residual 20-65 % RMS), while the stored integers satisfy it exactly with one
gain for all leads; LUDB's limb leads are derived, so the per-lead gains cannot be right. By
default this benchmark therefore reads the stored integers at LUDB's uniform 1000 /mV (1 count =
1 µV) for every record whose header fails the Einthoven check and whose integers pass it (the
count is printed); ``--header-gains`` uses the headers as they are. Voltage criteria (LVH, low
voltage, ST thresholds) depend on this.

Note that LUDB's axis labels follow a convention in which "left axis deviation" starts
below 0 deg (with "horizontal" 0-30 deg), while the AHA statement (ours) starts at -30 deg.

Rhythm disagreement: the share of records whose rhythm statement a cardiologist would revise:
our rhythm class (sinus: SR/SBRAD/STACH/SARRH; atrial fibrillation; atrial flutter; ectopic
atrial; junctional; SVT; VT; paced; none when no rhythm statement or RHYTHM_UNDETERMINED)
is not among the classes of the record's ludb.csv rhythm (sinus rhythms and "Irregular sinus
rhythm" -> sinus; "Wandering atrial pacemaker" -> sinus or ectopic atrial; "Atrial
fibrillation" -> AF; "Atrial flutter" -> flutter; a record with a pacing entry also accepts
paced). For scale, GE MUSE needed revision in 13.2 % (Poon K et al., J Electrocardiol 2005).
"""

from __future__ import annotations

import dataclasses
import sys
from functools import partial
from multiprocessing import Pool

from ecgread.integration import ludb

ROWS: tuple[tuple[str, str, tuple[str, ...], set[str]], ...] = (
    # (row name, ludb.csv column, line prefixes (lower case), our codes)
    ("sinus rhythm", "Rhythms", ("sinus rhythm",), {"SR"}),
    ("sinus bradycardia", "Rhythms", ("sinus bradycardia",), {"SBRAD"}),
    ("sinus tachycardia", "Rhythms", ("sinus tachycardia",), {"STACH"}),
    ("AF or flutter", "Rhythms", ("atrial fibrillation", "atrial flutter"), {"AF", "AFL"}),
    ("1st-degree AV block", "Conduction abnormalities", ("i degree av block",), {"1AVB"}),
    ("complete AV block", "Conduction abnormalities", ("iii degree av-block",), {"3AVB"}),
    ("complete RBBB", "Conduction abnormalities", ("complete right bundle branch block",),
     {"RBBB"}),
    ("complete LBBB", "Conduction abnormalities", ("complete left bundle branch block",),
     {"LBBB"}),
    ("incomplete RBBB", "Conduction abnormalities", ("incomplete right bundle branch block",),
     {"IRBBB"}),
    ("LAFB", "Conduction abnormalities", ("left anterior hemiblock",), {"LAFB"}),
    ("left axis deviation", "Electric axis of the heart",
     ("electric axis of the heart: left axis deviation",), {"LAD"}),
    ("right axis deviation", "Electric axis of the heart",
     ("electric axis of the heart: right axis deviation",), {"RAD"}),
    ("LVH", "Hypertrophies", ("left ventricular hypertrophy",), {"LVH"}),
    ("left atrial enlargement", "Hypertrophies",
     ("left atrial hypertrophy", "left atrial overload"), {"LAE"}),
    ("paced rhythm", "Cardiac pacing", ("",), {"APACED", "VPACED", "AVPACED"}),
    ("ventricular extrasystoles", "Extrasystolies", ("ventricular extrasystole",),
     {"PVC", "VBIGEMINY", "PVC_COUPLET", "NSVT", "VT"}),
    ("STEMI", "Ischemia", ("stemi",), {"STEMI_ANT", "STEMI_INF", "STEMI_LAT"}),
    ("scar (Q-wave infarct)", "Ischemia", ("scar formation",), {"MI_ANT", "MI_INF", "MI_LAT"}),
)

_OUR_RHYTHM = {"SR": "sinus", "SBRAD": "sinus", "STACH": "sinus", "SARRH": "sinus",
               "AF": "af", "AFL": "flutter", "EAR": "ectopic atrial", "AT": "ectopic atrial",
               "JUNCT": "junctional", "ACC_JUNCT": "junctional", "SVT": "svt", "VT": "vt",
               "APACED": "paced", "VPACED": "paced", "AVPACED": "paced"}
_LUDB_RHYTHM = {"sinus rhythm": {"sinus"}, "sinus bradycardia": {"sinus"},
                "sinus tachycardia": {"sinus"}, "sinus arrhythmia": {"sinus"},
                "irregular sinus rhythm": {"sinus"},
                "wandering atrial pacemaker": {"sinus", "ectopic atrial"},
                "atrial fibrillation": {"af"}, "atrial flutter, typical": {"flutter"}}


def _lines(row: dict[str, str], column: str) -> list[str]:
    return [x.strip().lower() for x in row.get(column, "").split("\n") if x.strip()]


def truth(row: dict[str, str], prefixes: tuple[str, ...], column: str) -> bool:
    return any(line.startswith(p) for line in _lines(row, column) for p in prefixes)


def run_record(rid: int, header_gains: bool = False) -> tuple[int, list[str], int, str, bool]:
    """(record, statement codes, statements failing check_evidence, rhythm class, rescaled)."""
    from ecgread.models.analysis import analyze
    from ecgread.models.interpret import check_evidence
    from ecgread.workers.onnx_models import process_models

    row = ludb.diagnoses()[rid]
    ecg = ludb.read_record(rid, header_gains=header_gains)
    rescaled = not header_gains and ludb.einthoven_residual(
        ludb.read_record(rid, header_gains=True).signal_uv[:3]) > 0.05
    sex = row.get("Sex", "").strip().upper()[:1] or None
    try:
        age: float | None = float(row.get("Age", "").strip().strip("+<> "))
    except ValueError:
        age = None
    ecg = dataclasses.replace(ecg, acquisition=dataclasses.replace(
        ecg.acquisition, patient_sex=sex if sex in ("M", "F") else None, patient_age_years=age))
    a = analyze(ecg, models=process_models())
    codes = [s.code for s in a.statements]
    bad = sum(1 for s in a.statements if check_evidence(s, a))
    rhythm = next((_OUR_RHYTHM[c] for c in codes if c in _OUR_RHYTHM), "none")
    return rid, codes, bad, rhythm, rescaled


def accepted_rhythms(row: dict[str, str]) -> set[str]:
    acc: set[str] = set()
    for line in _lines(row, "Rhythms"):
        acc |= _LUDB_RHYTHM.get(line, set())
    if _lines(row, "Cardiac pacing"):
        acc.add("paced")
    return acc


def _fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def report(results: list[tuple[int, list[str], int, str, bool]], split: str) -> list[str]:
    rows = ludb.diagnoses()
    sub = [r for r in results if ludb.split(r[0]) == split]
    out = [f"== {split} split: {len(sub)} records ==",
           f"{'diagnosis':<27}{'Se':>7}{'Sp':>7}{'TP':>5}{'FN':>5}{'FP':>5}{'TN':>5}"]
    for name, column, prefixes, codes in ROWS:
        tp = fn = fp = tn = 0
        for rid, ours, _, _, _ in sub:
            t = truth(rows[rid], prefixes, column)
            p = bool(codes & set(ours))
            tp, fn, fp, tn = tp + (t and p), fn + (t and not p), fp + (p and not t), \
                tn + (not t and not p)
        se = tp / (tp + fn) if tp + fn else None
        sp = tn / (tn + fp) if tn + fp else None
        out.append(f"{name:<27}{_fmt(se):>7}{_fmt(sp):>7}{tp:5d}{fn:5d}{fp:5d}{tn:5d}")
    wrong = [(rid, r, sorted(accepted_rhythms(rows[rid]))) for rid, _, _, r, _ in sub
             if r not in accepted_rhythms(rows[rid])]
    out.append(f"rhythm disagreement (would be revised): {len(wrong)}/{len(sub)} = "
               f"{100 * len(wrong) / max(1, len(sub)):.1f}%  (GE MUSE: 13.2%, Poon 2005)")
    for rid, r, acc in wrong:
        out.append(f"   record {rid}: ours {r}, cardiologist {'/'.join(acc) or '?'}")
    bad = sum(b for _, _, b, _, _ in sub)
    n = sum(len(c) for _, c, _, _, _ in sub)
    out.append(f"statements: {n}; failing check_evidence: {bad}")
    return out


def main(argv: list[str] | None = None) -> int:
    if not ludb.available():
        print(f"LUDB not found at {ludb.LUDB_DIR}", file=sys.stderr)
        return 2
    args = sys.argv[1:] if argv is None else argv
    header_gains = "--header-gains" in args
    ids = ludb.record_ids()
    with Pool(2) as pool:
        results = pool.map(partial(run_record, header_gains=header_gains), ids, chunksize=4)
    n_rescaled = sum(r[4] for r in results)
    print(f"{len(ids)} LUDB records; {n_rescaled} read at a uniform 1000 /mV because their header "
          "gains fail Einthoven's law" if not header_gains else "header gains as stored")
    for split in ("tune", "test"):
        print("\n".join(report(results, split)))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
