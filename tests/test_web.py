"""``ecgread web`` in a real browser: Debian's chromium driven by Playwright, over the real
web application (uvicorn on loopback), the real listeners and read job, a real SQLite audit
database and a real MLLP receiver standing in for the EHR.

The story a cardiologist lives through: log in, find the ECG on the worklist, open it,
confirm it (the EHR gets F after the automatic P), correct it (the EHR gets C), and the
audit trail shows every step. Around it: lockout, roles, CSRF, the audit pages.
Screenshots of the worklist and the ECG view are written to ``docs/``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecgread.config.settings import Settings, load_settings
from ecgread.testing import MllpReceiver, free_port, wait_for_port
from tests.conftest import REPO, need
from tests.e2e_helpers import storescu, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.slow


def _obr25(message: str) -> str:
    obr = next(seg for seg in message.split("\r") if seg.startswith("OBR|"))
    return obr.split("|")[25]


def _statuses(receiver: MllpReceiver) -> list[str]:
    return [_obr25(m) for m in list(receiver.received)]


@dataclasses.dataclass
class Site:
    settings: Settings
    receiver: MllpReceiver
    base: str
    sop: str
    read_id: int
    dicom_port: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need(Path(CHROMIUM).is_file(), "chromium not installed (apt-get install chromium)")
    need(shutil.which("storescu") is not None, "DCMTK storescu not installed")
    pytest.importorskip("playwright.sync_api")
    import uvicorn
    from pydicom.data import get_testdata_file
    from sqlmodel import select

    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import EcgRead, EcgRecord
    from ecgread.cli.service import start
    from ecgread.web.app import create_app
    from ecgread.web.auth import add_user

    home = tmp_path_factory.mktemp("web")
    receiver = MllpReceiver("AA")
    settings = load_settings({
        "home": home, "dicom_host": "127.0.0.1", "hl7_host": "127.0.0.1", "dicom_port": 0,
        "hl7_port": 0, "ehr_host": "127.0.0.1", "ehr_port": receiver.port,
        "web_lockout_failures": 3, "web_secret_key": "test-secret-" + "x" * 32}, environ={})
    service = start(settings, outbox_poll_s=0.3)
    sample = Path(get_testdata_file("waveform_ecg.dcm"))
    proc = storescu(service.dicom_port, sample, called_ae=settings.dicom_ae_title)
    assert proc.returncode == 0, proc.stderr
    wait_until(lambda: _statuses(receiver), timeout_s=180)
    with session_scope(settings.audit_url) as s:
        record = s.exec(select(EcgRecord)).one()
        read = s.exec(select(EcgRead).where(EcgRead.ecg_id == record.id)).one()
        sop, read_id = record.sop_instance_uid, read.id
    for name, role in (("cardio", "cardiologist"), ("tech", "technician"),
                       ("audit", "auditor"), ("victim", "cardiologist")):
        add_user(settings, name, PASSWORD, role)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    try:
        assert read_id is not None
        yield Site(settings, receiver, f"http://127.0.0.1:{port}", sop, read_id,
                   service.dicom_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        service.stop()
        receiver.stop()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _login(browser: Any, site: Site, user: str, password: str = PASSWORD) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(site.base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def _events(site: Site, prefix: str) -> list[Any]:
    from ecgread.audit import queries
    from ecgread.audit.db import session_scope

    with session_scope(site.settings.audit_url) as s:
        return queries.events(s, action_prefix=prefix, limit=10_000)


def test_the_automatic_read_goes_out_preliminary(site: Site) -> None:
    assert _statuses(site.receiver)[0] == "P"
    obx11 = {seg.split("|")[11] for seg in site.receiver.received[0].split("\r")
             if seg.startswith("OBX|")}
    assert obx11 <= {"P", "X"} and "P" in obx11


def test_the_web_healthcheck_gets_the_login_page(site: Site) -> None:
    """`ecgread health web` (the compose web service's healthcheck) against the real app:
    ok, and no audit event (no patient data seen); a port with nothing on it and a port
    that is not HTTP (the EHR's MLLP receiver) are problems, exit 1."""
    import os
    import subprocess
    import sys

    port = site.base.rsplit(":", 1)[1]
    events = len(_events(site, "ecgread."))

    def health(web_port: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "ECGREAD_WEB_HOST": "127.0.0.1"}
        return subprocess.run([sys.executable, "-m", "ecgread", "health", "web", "--web-port",
                               web_port], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    ok = health(port)
    assert ok.returncode == 0 and ok.stdout.strip() == "web: ok", ok.stdout + ok.stderr
    assert len(_events(site, "ecgread.")) == events
    down = health(str(free_port()))
    assert down.returncode == 1 and "web: web http://127.0.0.1:" in down.stdout
    wrong = health(str(site.receiver.port))
    assert wrong.returncode == 1 and "web: web http://127.0.0.1:" in wrong.stdout


def test_pages_need_a_login_and_a_wrong_password_is_refused(browser: Any, site: Site) -> None:
    page = browser.new_page()
    page.goto(site.base + "/worklist")
    assert "/login" in page.url
    page = _login(browser, site, "cardio", "wrong password")
    assert "Wrong user name or password" in page.inner_text(".error")


def test_repeated_failures_lock_the_account_even_for_the_right_password(
        browser: Any, site: Site) -> None:
    for _ in range(site.settings.web_lockout_failures):
        _login(browser, site, "victim", "not it at all").close()
    page = _login(browser, site, "victim")
    assert "locked" in page.inner_text(".error")
    assert "/login" in page.url
    assert _events(site, "ecgread.web.login.locked")


def test_a_post_without_the_csrf_token_is_refused(browser: Any, site: Site) -> None:
    page = _login(browser, site, "cardio")
    response = page.request.post(f"{site.base}/ecg/{site.read_id}/sign",
                                 form={"keep": "1"})
    assert response.status == 403
    assert "CSRF" in response.text()


def test_a_technician_sees_the_worklist_but_cannot_sign(browser: Any, site: Site) -> None:
    page = _login(browser, site, "tech")
    assert page.locator("table.worklist tbody tr[data-read]").count() >= 1
    page.goto(f"{site.base}/ecg/{site.read_id}")
    assert page.locator("#sign-form").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(f"{site.base}/ecg/{site.read_id}/sign",
                                 form={"keep": "1", "csrf_token": token or ""})
    assert response.status == 403


def test_confirm_then_correct_reaches_the_ehr_as_f_then_c(browser: Any, site: Site) -> None:
    started = time.monotonic()
    page = _login(browser, site, "cardio")
    assert page.url.endswith("/worklist")
    row = page.locator(f"tr[data-read='{site.read_id}']")
    assert row.count() == 1
    automatic = json.loads(_read_result(site))["statements"]
    assert automatic and automatic[0]["text"] in row.inner_text()
    (REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "web-worklist.png"), full_page=True)
    viewed = len(_events(site, "ecgread.web.ecg.viewed"))

    row.locator("a").click()
    page.wait_for_selector("svg.tracing")
    assert "not confirmed" in page.inner_text("#status")
    # what a cardiologist reads the tracing with: sex and age, the paper scale, evidence
    # in words and units (not the JSON's names)
    assert page.inner_text(".demographics").startswith("female · 42 y")
    assert page.inner_text("#scale").startswith("25 mm/s · 10 mm/mV · 1000 Hz")  # the sample
    evidence = page.inner_text("ol.statements")
    assert "heart_rate_bpm" not in evidence and "rhythm.p_wave_ratio" not in evidence
    if any(e["measurement"] == "heart_rate_bpm" for st in automatic for e in st["evidence"]):
        assert "Heart rate 61 bpm (in [60, 100] bpm)" in evidence
    assert "60–100" in page.inner_text("table.measurements")
    assert len(_events(site, "ecgread.web.ecg.viewed")) == viewed + 1
    first = page.locator("ol.statements > li[data-n='1']")
    n_boxes = page.locator("svg.tracing rect.ev[data-statements]").count()
    first.hover()
    hot = page.locator("svg.tracing rect.ev.hot").count()
    if automatic[0]["evidence"] and n_boxes:
        assert hot >= 1  # the statement's evidence lights up on the tracing
    page.screenshot(path=str(REPO / "docs" / "web-ecg.png"), full_page=True)

    # confirm: keep everything, add a library statement
    page.select_option("select[name=add_code]", ["LVH"])
    page.click("#sign")
    page.wait_for_selector(".notice")
    assert "Confirmed by cardio" in page.inner_text("#status")
    wait_until(lambda: "F" in _statuses(site.receiver), timeout_s=60)
    final = site.receiver.received[-1]
    assert "Left ventricular hypertrophy" in final
    assert "Confirmed by cardio" in final
    confirmed = _events(site, "ecgread.review.confirmed")
    assert len(confirmed) == 1
    detail = json.loads(confirmed[0].detail_json)
    assert detail["user"] == "cardio" and "LVH" in detail["added"]
    assert not any("LVH" in s for s in detail["before"]["statements"])
    assert any("LVH" in s for s in detail["after"]["statements"])

    # the worklist no longer lists it
    page.goto(site.base + "/worklist")
    assert page.locator(f"tr[data-read='{site.read_id}']").count() == 0

    # correct: drop the first statement, override QRS with a reason
    page.goto(f"{site.base}/ecg/{site.read_id}")
    page.uncheck("input[name=keep][value='1']")
    page.click("details summary")
    page.fill("input[name=override_qrs_ms]", "124")
    page.fill("input[name=reason_qrs_ms]", "QRS offset measured by hand in V2")
    page.click("#sign")
    page.wait_for_selector(".notice")
    assert "Corrected by cardio" in page.inner_text("#status")
    wait_until(lambda: "C" in _statuses(site.receiver), timeout_s=60)
    assert _statuses(site.receiver) == ["P", "F", "C"]
    corrected = site.receiver.received[-1]
    qrs = next(seg for seg in corrected.split("\r") if seg.startswith("OBX|")
               and "8633-0" in seg)
    assert qrs.split("|")[5] == "124" and qrs.split("|")[11] == "C"
    assert "hand in V2" in corrected
    detail = json.loads(_events(site, "ecgread.review.corrected")[0].detail_json)
    assert detail["after"]["overrides"]["qrs_ms"]["value"] == 124.0
    assert detail["before"]["overrides"] == {}
    print(f"browser confirm+correct: {time.monotonic() - started:.1f} s")


def _read_result(site: Site) -> str:
    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import EcgRead

    with session_scope(site.settings.audit_url) as s:
        read = s.get(EcgRead, site.read_id)
        assert read is not None and read.result_json
        return read.result_json


def test_quality_figures_count_the_edits(browser: Any, site: Site) -> None:
    page = _login(browser, site, "cardio")
    page.goto(site.base + "/quality")
    text = page.inner_text("table.figures")
    if not _events(site, "ecgread.review"):
        pytest.skip("needs the confirm/correct test first")
    assert "LVH" in text
    assert "Reads signed: 1" in page.inner_text("#rhythm-rate")


def test_the_audit_trail_in_the_browser(browser: Any, site: Site) -> None:
    page = _login(browser, site, "audit")
    assert page.url.endswith("/audit")
    page.goto(site.base + "/worklist")  # not an auditor's page
    assert "not allowed" in page.content()
    page.goto(site.base + "/audit")
    page.fill("input[name=sop]", site.sop)
    page.click("form.filters button")
    page.wait_for_selector("table.results")
    assert site.sop in page.inner_text("table.results")
    page.click(f"a[href='/audit/ecg/{site.sop}']")
    page.wait_for_selector("table.history")
    actions = page.inner_text("table.history")
    for action in ("ecgread.dicom", "ecgread.read.finished", "ecgread.report.created",
                   "ecgread.delivery.queued", "ecgread.web.ecg.viewed"):
        assert action in actions, action
    if _events(site, "ecgread.review"):
        assert "ecgread.review.confirmed" in actions
        assert "ecgread.delivery.acknowledged" in actions or "AA" in actions
    with page.expect_download() as download:
        page.click("text=Export CSV")
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("id,at,action")
    page.goto(site.base + "/audit/deliveries?state=delivered")
    assert page.locator("table.results tbody tr").count() >= 1
    page.goto(site.base + "/audit/verify")
    assert "intact" in page.inner_text("#chain")


def test_the_second_ecg_of_a_patient_is_compared_with_the_first(
        browser: Any, site: Site, tmp_path: Path) -> None:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid
    from sqlmodel import select

    from ecgread.audit.db import session_scope
    from ecgread.audit.tables import EcgRead, EcgRecord

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for key in ("AcquisitionDateTime", "ContentDate", "AcquisitionDate", "StudyDate"):
        if key in ds and str(ds[key].value):
            value = str(ds[key].value)
            ds[key].value = str(int(value[:4]) + 1) + value[4:]  # one year later
    path = tmp_path / "second.dcm"
    ds.save_as(path)
    proc = storescu(site.dicom_port, path, called_ae=site.settings.dicom_ae_title)
    assert proc.returncode == 0, proc.stderr

    def second_read() -> Any:
        with session_scope(site.settings.audit_url) as s:
            return s.exec(select(EcgRead).join(EcgRecord, EcgRecord.id == EcgRead.ecg_id)  # type: ignore[arg-type]
                          .where(EcgRecord.sop_instance_uid == str(ds.SOPInstanceUID),
                                 EcgRead.status == "ok")).first()

    read = wait_until(second_read, timeout_s=120)
    result = json.loads(read.result_json)
    assert result["serial"]["prior_sop_instance_uid"] == site.sop
    codes = [s["code"] for s in result["statements"]]
    assert any(c.startswith("SERIAL_") for c in codes)
    # the same tracing a year later, compared with what the cardiologist signed for the
    # first: after the correction test set its QRS to 124 ms, this QRS is narrower
    corrected = bool(_events(site, "ecgread.review.corrected"))
    expected = "SERIAL_QRS_NARROWER" if corrected else "SERIAL_NO_CHANGE"
    assert expected in codes
    assert result["serial"]["prior_confirmed"] == corrected
    text = "QRS duration narrower" if corrected else "No significant change"
    wait_until(lambda: any(text in m for m in site.receiver.received), timeout_s=60)
    page = _login(browser, site, "cardio")
    page.goto(f"{site.base}/ecg/{read.id}")
    assert "Compared with the ECG of 2013-01-25 10:59" in page.inner_text("#serial")
    assert text in page.inner_text("ol.serial-statements")
    assert text not in page.inner_text("ol.statements:not(.serial-statements)")
    qrs = page.locator("table.serial tr", has_text="QRS duration").inner_text().split()
    now = f"{result['measurements']['qrs_ms']:.0f}"  # the sample's QRS as read (74 ms)
    assert qrs[-3:] == (["124", now, "ms"] if corrected else [now, now, "ms"])
    page.screenshot(path=str(REPO / "docs" / "web-ecg-serial.png"), full_page=True)


def test_worklist_pages_are_in_order_critical_first_then_oldest(tmp_path: Path) -> None:
    """queries.worklist on a real SQLite database: critical first, then the oldest
    acquisition (reception time where there is none), read ID last; pages join up without
    gaps or repeats; signed, failed and batch reads are not listed."""
    from datetime import timedelta

    from ecgread.audit import queries
    from ecgread.audit.db import migrate, session_scope
    from ecgread.audit.tables import EcgRead, EcgRecord, ReadReview, utcnow

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate(url)
    now = utcnow()
    with session_scope(url) as s:
        for i in range(23):
            acquired = None if i % 5 == 0 else now - timedelta(minutes=(i * 7) % 23)
            record = EcgRecord(sop_instance_uid=f"1.2.3.{i}", received_at=now - timedelta(
                minutes=i % 4), acquisition_time=acquired)
            s.add(record)
            s.flush()
            status, trigger = ("failed", "ingest") if i == 3 else ("ok", "ingest")
            s.add(EcgRead(ecg_id=record.id, status=status, trigger=trigger, critical=i % 6 == 1,
                          result_json='{"statements": []}'))
            if i == 4:
                s.add(EcgRead(ecg_id=record.id, status="ok", trigger="batch",
                              result_json="{}"))
        s.flush()
        signed = s.exec(_select_read(1)).one()
        s.add(ReadReview(read_id=signed.id, signed_by="cardio"))
    with session_scope(url) as s:
        pages = [queries.worklist(s, limit=5, offset=o) for o in range(0, 30, 5)]
        listed = [row for page in pages for row in page]
        total, critical = queries.worklist_size(s)
    keys = [(not read.critical, record.acquisition_time or record.received_at, read.id)
            for read, record, _ in listed]
    assert keys == sorted(keys)
    ids = [read.id for read, _, _ in listed]
    assert len(ids) == len(set(ids)) == total == 21  # 23, less the failed and the signed one
    assert critical == sum(1 for read, _, _ in listed if read.critical) == 3
    assert all(read.trigger == "ingest" and read.status == "ok" for read, _, _ in listed)
    assert pages[-1] == [] and len(pages[-2]) == 1


def _select_read(ecg_index: int) -> Any:
    from sqlmodel import select

    from ecgread.audit.tables import EcgRead, EcgRecord

    return (select(EcgRead).join(EcgRecord, EcgRecord.id == EcgRead.ecg_id)  # type: ignore[arg-type]
            .where(EcgRecord.sop_instance_uid == f"1.2.3.{ecg_index}"))
