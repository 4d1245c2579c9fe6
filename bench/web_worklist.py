"""Page load time of ``ecgread web``'s worklist with N unconfirmed reads in the database.

    python -m bench.web_worklist [--n 10000] [--database-url URL]

Fills a fresh audit database (SQLite by default) with N ECGs, each with an ingest read
whose JSON is a real read's (pydicom's sample ECG, ~ its full size with waves), 5 % of
them critical, runs the real app under uvicorn, logs in over HTTP and times GET
/worklist (first page, a middle page) and one ECG view. Prints a table.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import uvicorn
    from pydicom.data import get_testdata_file
    from sqlalchemy import insert

    from ecgread.audit.db import migrate, session_scope
    from ecgread.audit.tables import EcgRead, EcgRecord, utcnow
    from ecgread.config.settings import load_settings
    from ecgread.integration.dicom_decode import decode_file
    from ecgread.models.analysis import AnalysisConfig, analyze
    from ecgread.testing import free_port, wait_for_port
    from ecgread.web.app import create_app
    from ecgread.web.auth import add_user

    home = Path(tempfile.mkdtemp(prefix="ecgread-webbench-"))
    settings = load_settings({"home": home, "database_url": args.database_url or None,
                              "web_secret_key": "bench" * 8}, environ={})
    migrate(settings.audit_url)
    sample = Path(get_testdata_file("waveform_ecg.dcm"))
    result = analyze(decode_file(sample), AnalysisConfig(delineator="dsp")).to_json_dict()
    blob = json.dumps(result)
    now = utcnow()
    t0 = time.perf_counter()
    with session_scope(settings.audit_url) as s:
        s.execute(insert(EcgRecord), [
            {"sop_instance_uid": f"1.2.826.0.1.9999.{i}", "path": str(sample),
             "patient_id": f"P{i % 7000:05d}", "accession_number": f"A{i:06d}",
             "acquisition_time": now - timedelta(minutes=i), "received_at": now,
             "updated_at": now, "state": "reported", "sop_class_uid": "", "attempts": 1}
            for i in range(args.n)])
        ids = [r[0] for r in s.exec(EcgRecord.__table__.select().with_only_columns(  # type: ignore[attr-defined]
            EcgRecord.__table__.c.id))]  # type: ignore[attr-defined]
        s.execute(insert(EcgRead), [
            {"ecg_id": i, "status": "ok", "critical": (i % 20 == 0), "result_json": blob,
             "versions_json": "{}", "trigger": "ingest", "started_at": now}
            for i in ids])
    fill_s = time.perf_counter() - t0
    add_user(settings, "bench", "bench-password", "cardiologist")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for_port(port)
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    opener.open(base + "/login", urllib.parse.urlencode(
        {"csrf_token": token, "username": "bench", "password": "bench-password",
         "next": "/worklist"}).encode()).read()

    def timed(path: str) -> tuple[float, int]:
        times = []
        size = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            body = opener.open(base + path).read()
            times.append((time.perf_counter() - start) * 1000.0)
            size = len(body)
        times.sort()
        return times[len(times) // 2], size

    db = "PostgreSQL" if settings.audit_url.startswith("postgres") else "SQLite"
    print(f"{args.n} unconfirmed reads in {db} (filled in {fill_s:.1f} s); "
          f"median of {args.repeat}, ms")
    print(f"{'page':<28}{'median ms':>10}{'bytes':>10}")
    for path in ("/worklist", f"/worklist?page={args.n // 100}", f"/ecg/{ids[0]}"):
        ms, size = timed(path)
        print(f"{path:<28}{ms:>10.0f}{size:>10}")
    server.should_exit = True


if __name__ == "__main__":
    main()
