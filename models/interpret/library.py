"""The statement library: stable codes, texts, categories, AHA numbers and critical flags.

Texts and numbers follow the AHA/ACCF/HRS recommendations for the standardization and
interpretation of the electrocardiogram, Part II: Electrocardiography diagnostic statement
list (Mason JW, Hancock EW, Gettes LS. Circulation 2007;115:1325-1332), primary statements
1-190; ``aha`` is that list's number where one exists (None where the list has no such
statement, e.g. incomplete LBBB or the rate-based critical statements).

``severity`` drives the overall statement (:mod:`models.interpret.resolve`):

- ``"normal"``: compatible with a normal ECG (sinus rhythm);
- ``"minor"``: a normal variant or rate statement that still allows "otherwise normal";
- ``"borderline"``: a finding that makes the ECG borderline, not abnormal;
- ``"abnormal"``: makes the ECG abnormal;
- ``"overall"`` / ``"technical"``: the overall and technical statements themselves.

Critical findings (``critical=True``) are flagged for urgent delivery: STEMI, ventricular
tachycardia, complete AV block, QTc >= 500 ms, heart rate < 40 or > 150 bpm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["overall", "technical", "rhythm", "conduction", "axis", "hypertrophy",
                   "st_t_qt", "ectopy", "pacing"]
Severity = Literal["normal", "minor", "borderline", "abnormal", "overall", "technical"]


@dataclass(frozen=True)
class StatementDef:
    """One entry of the library."""

    code: str
    text: str
    category: Category
    severity: Severity
    aha: int | None = None  # number in Mason 2007, Part II, primary statements
    critical: bool = False


_ENTRIES: tuple[StatementDef, ...] = (
    # overall (AHA A 1-4) and technical (AHA B 10-16)
    StatementDef("NORMAL", "Normal ECG", "overall", "overall", 1),
    StatementDef("OTHERWISE_NORMAL", "Otherwise normal ECG", "overall", "overall", 2),
    StatementDef("BORDERLINE", "Borderline ECG", "overall", "overall", None),
    StatementDef("ABNORMAL", "Abnormal ECG", "overall", "overall", 3),
    StatementDef("UNINTERPRETABLE", "Technically limited: uninterpretable ECG "
                 "(poor-quality data)", "technical", "technical", 4),
    StatementDef("RHYTHM_UNDETERMINED", "Technically limited: unable to interpret rhythm",
                 "technical", "technical", 15),
    StatementDef("LIMB_REVERSAL", "Suspected extremity electrode reversal (LA/RA)",
                 "technical", "technical", 10),
    # rhythm (AHA C 20-27, D 30-42, E 50-56, G 70-76)
    StatementDef("SR", "Sinus rhythm", "rhythm", "normal", 20),
    StatementDef("STACH", "Sinus tachycardia", "rhythm", "minor", 21),
    StatementDef("SBRAD", "Sinus bradycardia", "rhythm", "minor", 22),
    StatementDef("SARRH", "Sinus arrhythmia", "rhythm", "minor", 23),
    StatementDef("EAR", "Ectopic atrial rhythm", "rhythm", "borderline", 34),
    StatementDef("JUNCT", "Junctional rhythm", "rhythm", "abnormal", 38),
    StatementDef("ACC_JUNCT", "Accelerated junctional rhythm", "rhythm", "abnormal", 39),
    StatementDef("AF", "Atrial fibrillation", "rhythm", "abnormal", 50),
    StatementDef("AFL", "Atrial flutter", "rhythm", "abnormal", 51),
    StatementDef("AT", "Atrial tachycardia", "rhythm", "abnormal", None),
    StatementDef("SVT", "Supraventricular tachycardia", "rhythm", "abnormal", 55),
    StatementDef("VT", "Ventricular tachycardia", "rhythm", "abnormal", 70, critical=True),
    StatementDef("NSVT", "Ventricular tachycardia, unsustained", "rhythm", "abnormal", 71,
                 critical=True),
    StatementDef("HR_LT40", "Marked bradycardia: heart rate below 40 bpm", "rhythm",
                 "abnormal", None, critical=True),
    StatementDef("HR_GT150", "Marked tachycardia: heart rate above 150 bpm", "rhythm",
                 "abnormal", None, critical=True),
    # pacing (AHA N 180-190)
    StatementDef("APACED", "Atrial-paced rhythm", "pacing", "abnormal", 180),
    StatementDef("VPACED", "Ventricular-paced rhythm", "pacing", "abnormal", 181),
    StatementDef("AVPACED", "AV dual-paced rhythm", "pacing", "abnormal", 184),
    # conduction (AHA H 80-89, I 100-111)
    StatementDef("SHORT_PR", "Short PR interval", "conduction", "borderline", 80),
    StatementDef("1AVB", "First-degree AV block (prolonged PR interval)", "conduction",
                 "borderline", 82),
    StatementDef("2AVB_II", "Second-degree AV block, Mobitz type II", "conduction",
                 "abnormal", 84),
    StatementDef("3AVB", "Complete (third-degree) AV block", "conduction", "abnormal", 88,
                 critical=True),
    StatementDef("LAFB", "Left anterior fascicular block", "conduction", "abnormal", 101),
    StatementDef("LPFB", "Left posterior fascicular block", "conduction", "abnormal", 102),
    StatementDef("LBBB", "Left bundle-branch block", "conduction", "abnormal", 104),
    StatementDef("ILBBB", "Incomplete left bundle-branch block", "conduction", "abnormal",
                 None),
    StatementDef("IRBBB", "Incomplete right bundle-branch block", "conduction", "borderline",
                 105),
    StatementDef("RBBB", "Right bundle-branch block", "conduction", "abnormal", 106),
    StatementDef("IVCD", "Nonspecific intraventricular conduction delay", "conduction",
                 "abnormal", 107),
    StatementDef("WPW", "Ventricular preexcitation", "conduction", "abnormal", 108),
    # axis and voltage (AHA J 120-131)
    StatementDef("RAD", "Right-axis deviation", "axis", "borderline", 120),
    StatementDef("LAD", "Left-axis deviation", "axis", "borderline", 121),
    StatementDef("EXTREME_AXIS", "Right superior (extreme) axis", "axis", "abnormal", 122),
    StatementDef("LOW_VOLTAGE", "Low QRS voltage", "axis", "borderline", 125),
    # chamber enlargement and hypertrophy (AHA K 140-144)
    StatementDef("LAE", "Left atrial enlargement", "hypertrophy", "borderline", 140),
    StatementDef("RAE", "Right atrial enlargement", "hypertrophy", "borderline", 141),
    StatementDef("LVH", "Left ventricular hypertrophy", "hypertrophy", "abnormal", 142),
    StatementDef("RVH", "Right ventricular hypertrophy", "hypertrophy", "abnormal", 143),
    # ST, T and QT (AHA L 145-155, M 160-166 with modifier 330 "acute")
    StatementDef("STEMI_ANT", "ST elevation meeting STEMI criteria, anterior (V1-V4): "
                 "acute anterior MI", "st_t_qt", "abnormal", 160, critical=True),
    StatementDef("STEMI_INF", "ST elevation meeting STEMI criteria, inferior (II, III, aVF): "
                 "acute inferior MI", "st_t_qt", "abnormal", 161, critical=True),
    StatementDef("STEMI_LAT", "ST elevation meeting STEMI criteria, lateral (I, aVL, V5, V6): "
                 "acute lateral MI", "st_t_qt", "abnormal", 163, critical=True),
    StatementDef("STEMI_SGARB", "ST elevation meeting Sgarbossa criteria with LBBB or "
                 "ventricular pacing: acute MI", "st_t_qt", "abnormal", 160, critical=True),
    StatementDef("MI_ANT", "Anterior infarct, age undetermined (Q waves in V2-V3)",
                 "st_t_qt", "abnormal", 160),
    StatementDef("MI_INF", "Inferior infarct, age undetermined (Q waves in II, III, aVF)",
                 "st_t_qt", "abnormal", 161),
    StatementDef("MI_LAT", "Lateral infarct, age undetermined (Q waves in I, aVL or V4-V6)",
                 "st_t_qt", "abnormal", 163),
    StatementDef("STE", "ST elevation, possible acute injury (not corroborated by reciprocal "
                 "ST depression)", "st_t_qt", "abnormal", 145),
    StatementDef("ST_DEP", "ST depression", "st_t_qt", "abnormal", 145),
    StatementDef("T_INV", "T-wave inversion (T-wave abnormality)", "st_t_qt", "abnormal", 147),
    StatementDef("LONG_QT", "Prolonged QT interval", "st_t_qt", "abnormal", 148),
    StatementDef("QTC_GE500", "Markedly prolonged QT interval: QTc 500 ms or more", "st_t_qt",
                 "abnormal", 148, critical=True),
    StatementDef("SHORT_QT", "Short QT interval", "st_t_qt", "abnormal", 149),
    StatementDef("EARLY_REPOL", "Early repolarization", "st_t_qt", "minor", 155),
    # ectopy (AHA D 30, F 60; modifiers 340 couplets, 341 bigeminal pattern)
    StatementDef("PAC", "Atrial premature complex(es)", "ectopy", "borderline", 30),
    StatementDef("PVC", "Ventricular premature complex(es)", "ectopy", "borderline", 60),
    StatementDef("VBIGEMINY", "Ventricular premature complexes in a bigeminal pattern",
                 "ectopy", "abnormal", 60),
    StatementDef("PVC_COUPLET", "Ventricular premature complexes, couplets", "ectopy",
                 "abnormal", 60),
)

LIBRARY: dict[str, StatementDef] = {e.code: e for e in _ENTRIES}
CRITICAL_CODES: frozenset[str] = frozenset(e.code for e in _ENTRIES if e.critical)


def get(code: str) -> StatementDef:
    """The library entry of ``code``; raises KeyError for an unknown code."""
    return LIBRARY[code]
