"""The Starlette application of ``ecgread web``.

Security: local accounts (:mod:`ecgread.web.auth`), a signed session cookie (HttpOnly,
SameSite=Strict), a CSRF token in every form checked on every POST, roles checked on every
route, a Content-Security-Policy that allows only this server's own scripts and styles
(nothing from a CDN), and every page that shows patient data recorded in the audit log
(``ecgread.web.*.viewed``) with the user who saw it.

Routes: ``/login``, ``/logout``, ``/worklist``, ``/ecg/{read_id}`` (view, ``/sign``,
``/pdf``), ``/quality``, ``/audit`` (search, ``/audit/ecg/{sop}``, ``/audit/deliveries``,
``/audit/verify``, ``/audit/export.csv``), ``/static/...``.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ecgread.audit import queries
from ecgread.audit.db import migrate, session_scope
from ecgread.audit.events import log_action, verify_chain
from ecgread.audit.tables import EcgRead, EcgRecord, Hl7Order, Report
from ecgread.config.settings import Settings
from ecgread.web import auth, views

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
_CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")

Endpoint = Callable[[Any, Request], Awaitable[Response]]


def secret_key(settings: Settings) -> str:
    """The session signing key: the setting, else one generated once into HOME/web_secret."""
    if settings.web_secret_key:
        return settings.web_secret_key
    path = settings.home / "web_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _user(request: Request) -> auth.User | None:
    name, role = request.session.get("user"), request.session.get("role")
    return auth.User(name, role) if name and role else None


def requires(*roles: str) -> Callable[[Endpoint], Endpoint]:
    """Logged in, with one of ``roles`` (any role when none is given)."""
    def wrap(fn: Endpoint) -> Endpoint:
        @wraps(fn)
        async def inner(self: Any, request: Request) -> Response:
            user = _user(request)
            if user is None:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            if roles and user.role not in roles:
                raise HTTPException(403, f"not allowed for the role {user.role}")
            return await fn(self, request)
        return inner
    return wrap


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def _form(request: Request) -> Any:
    """The POSTed form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
        raise HTTPException(403, "the form's CSRF token does not match this session")
    return form


def _parse_day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise HTTPException(400, f"not a date: {value[:30]!r}") from None


class WebApp:
    """Routes over one :class:`Settings` (the audit database, reports, the outbox)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals["app_name"] = "ecgread"

    def render(self, request: Request, name: str, status_code: int = 200,
               **context: Any) -> Response:
        context.update(user=_user(request), csrf_token=_csrf(request))
        response = self.templates.TemplateResponse(request, name, context,
                                                   status_code=status_code)
        return response

    def viewed(self, request: Request, action: str, *, subject: str | None = None,
               trace_id: str | None = None, **detail: Any) -> None:
        """Record that the logged-in user saw patient data (one audit event)."""
        user = _user(request)
        with session_scope(self.settings.audit_url) as s:
            log_action(s, action, subject=subject, trace_id=trace_id,
                       user=user.username if user else None,
                       peer=request.client.host if request.client else "", **detail)

    # -- login -------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.render(request, "login.html.j2", error=None,
                               next=request.query_params.get("next", "/worklist"))
        form = await _form(request)
        peer = request.client.host if request.client else ""
        user, why = await run_in_threadpool(
            auth.authenticate, self.settings, str(form.get("username", ""))[:100],
            str(form.get("password", ""))[:1000], peer)
        if user is None:
            error = ("Account locked after repeated failed logins; try again later."
                     if why == "locked" else "Wrong user name or password.")
            return self.render(request, "login.html.j2", status_code=401, error=error,
                               next=form.get("next", "/worklist"))
        request.session.clear()  # a fresh session (and CSRF token) per login
        request.session.update(user=user.username, role=user.role)
        target = str(form.get("next", "/worklist"))
        if not target.startswith("/") or target.startswith("//"):
            target = "/worklist"
        if user.role == "auditor" and target == "/worklist":
            target = "/audit"
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await _form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def home(self, request: Request) -> Response:
        user = _user(request)
        target = "/audit" if user is not None and user.role == "auditor" else "/worklist"
        return RedirectResponse(target, status_code=303)

    # -- worklist and ECG view ---------------------------------------------------------
    @requires("cardiologist", "technician")
    async def worklist(self, request: Request) -> Response:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        with session_scope(self.settings.audit_url) as s:
            rows = queries.worklist(s, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
            total, critical = queries.worklist_size(s)
            items = [views.worklist_item(read, record, order) for read, record, order in rows]
        self.viewed(request, "ecgread.web.worklist.viewed", page=page,
                    reads=[i["read_id"] for i in items])
        return self.render(request, "worklist.html.j2", items=items, total=total,
                           critical=critical, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)))

    @requires("cardiologist", "technician", "auditor")
    async def ecg(self, request: Request) -> Response:
        read_id = int(request.path_params["read_id"])
        view = await run_in_threadpool(views.ecg_view, self.settings, read_id)
        if view is None:
            raise HTTPException(404, "no such read")
        self.viewed(request, "ecgread.web.ecg.viewed", subject=f"ecg:{view['sop']}",
                    trace_id=view["sop"], read_id=read_id)
        return self.render(request, "ecg.html.j2", v=view,
                           signed=request.query_params.get("signed"))

    @requires("cardiologist")
    async def sign(self, request: Request) -> Response:
        from ecgread.workers.review import ReviewError

        read_id = int(request.path_params["read_id"])
        form = await _form(request)
        user = _user(request)
        assert user is not None
        try:
            signed = await run_in_threadpool(views.sign_from_form, self.settings, read_id,
                                             user.username, form)
        except ReviewError as exc:
            view = await run_in_threadpool(views.ecg_view, self.settings, read_id)
            if view is None:
                raise HTTPException(404, "no such read") from None
            return self.render(request, "ecg.html.j2", status_code=400, v=view, signed=None,
                               error=str(exc))
        self._deliver_soon()
        return RedirectResponse(f"/ecg/{read_id}?signed={signed.result_status}",
                                status_code=303)

    def _deliver_soon(self) -> None:
        """Send the queued result now rather than at the outbox's next poll (the
        delivery is already committed: this only saves the wait; leases keep a running
        ``ecgread serve`` from sending it twice)."""
        from ecgread.workers.outbox import deliver_due

        threading.Thread(target=deliver_due, args=(self.settings,), daemon=True).start()

    @requires("cardiologist", "technician", "auditor")
    async def pdf(self, request: Request) -> Response:
        read_id = int(request.path_params["read_id"])
        with session_scope(self.settings.audit_url) as s:
            report = s.exec(select(Report).where(Report.read_id == read_id)
                            .order_by(col(Report.id).desc())).first()
            read = s.get(EcgRead, read_id)
            record = s.get(EcgRecord, read.ecg_id) if read else None
        if report is None or record is None or not Path(report.pdf_path).is_file():
            raise HTTPException(404, "no report")
        self.viewed(request, "ecgread.web.report.viewed", subject=f"ecg:{record.sop_instance_uid}",
                    trace_id=record.sop_instance_uid, report_id=report.id)
        return FileResponse(report.pdf_path, media_type="application/pdf")

    # -- quality figures ---------------------------------------------------------------
    @requires("cardiologist", "auditor")
    async def quality(self, request: Request) -> Response:
        since = _parse_day(request.query_params.get("since"))
        until = _parse_day(request.query_params.get("until"))
        with session_scope(self.settings.audit_url) as s:
            figures = queries.review_figures(s, since=since,
                                             until=until + timedelta(days=1) if until else None)
        return self.render(request, "quality.html.j2", f=figures,
                           since=request.query_params.get("since", ""),
                           until=request.query_params.get("until", ""),
                           texts=views.statement_texts())

    # -- audit trail -------------------------------------------------------------------
    def _search(self, request: Request) -> tuple[dict[str, str], list[EcgRecord]]:
        p = request.query_params
        filters = {k: p.get(k, "").strip()[:128] for k in ("patient", "accession", "sop",
                                                            "since", "until")}
        until = _parse_day(filters["until"])
        with session_scope(self.settings.audit_url) as s:
            rows = queries.ecgs(s, patient_id=filters["patient"] or None,
                                accession=filters["accession"] or None,
                                sop_instance_uid=filters["sop"] or None,
                                since=_parse_day(filters["since"]),
                                until=until + timedelta(days=1) if until else None, limit=500)
        return filters, rows

    @requires("auditor", "cardiologist")
    async def audit(self, request: Request) -> Response:
        filters, rows = self._search(request)
        if any(filters.values()):
            self.viewed(request, "ecgread.web.audit.searched", results=len(rows),
                        **{k: v for k, v in filters.items() if v})
        return self.render(request, "audit.html.j2", filters=filters, rows=rows,
                           searched=any(filters.values()))

    @requires("auditor", "cardiologist")
    async def audit_export(self, request: Request) -> Response:
        filters, rows = self._search(request)
        out = io.StringIO()
        fields = ["sop_instance_uid", "patient_id", "accession_number", "acquisition_time",
                  "received_at", "state", "state_detail", "attempts"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: v for k, v in queries.row_dict(row).items() if k in fields})
        self.viewed(request, "ecgread.web.audit.exported", results=len(rows),
                    **{k: v for k, v in filters.items() if v})
        return Response(out.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="ecgread-audit.csv"'})

    @requires("auditor", "cardiologist")
    async def audit_ecg(self, request: Request) -> Response:
        sop = request.path_params["sop"][:128]
        with session_scope(self.settings.audit_url) as s:
            record = s.exec(select(EcgRecord)
                            .where(EcgRecord.sop_instance_uid == sop)).first()
            if record is None:
                raise HTTPException(404, "no such ECG")
            order = s.get(Hl7Order, record.order_id) if record.order_id else None
            history = queries.events(s, trace_id=sop, limit=2000)
            reads = [r for r, _ in queries.reads(s, sop_instance_uid=sop)]
            deliveries = queries.deliveries(s, sop_instance_uid=sop)
            # the events of its deliveries carry the message ID as trace
            for d in deliveries:
                history += queries.events(s, trace_id=d.message_id, limit=200)
        history.sort(key=lambda e: e.id or 0)
        self.viewed(request, "ecgread.web.audit.history.viewed", subject=f"ecg:{sop}",
                    trace_id=sop)
        if request.query_params.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["id", "at", "action", "subject", "trace_id", "detail"])
            for e in history:
                writer.writerow([e.id, e.at.isoformat(), e.action, e.subject, e.trace_id,
                                 e.detail_json])
            return Response(out.getvalue(), media_type="text/csv", headers={
                "Content-Disposition": 'attachment; filename="ecgread-history.csv"'})
        return self.render(request, "audit_ecg.html.j2", record=record, order=order,
                           history=history, reads=reads, deliveries=deliveries,
                           details={e.id: json.loads(e.detail_json) for e in history})

    @requires("auditor", "cardiologist")
    async def audit_deliveries(self, request: Request) -> Response:
        state = request.query_params.get("state", "")[:20] or None
        with session_scope(self.settings.audit_url) as s:
            rows = queries.deliveries(s, state=state, limit=500)
        self.viewed(request, "ecgread.web.audit.deliveries.viewed", state=state)
        return self.render(request, "audit_deliveries.html.j2", rows=rows, state=state or "")

    @requires("auditor", "cardiologist")
    async def audit_verify(self, request: Request) -> Response:
        with session_scope(self.settings.audit_url) as s:
            problems = verify_chain(s)
            count = len(queries.events(s, limit=10_000_000))
        return self.render(request, "audit_verify.html.j2", problems=problems, count=count)


async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                   ) -> Response:
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(settings: Settings, *, migrate_db: bool = True) -> Starlette:
    """The ASGI application (run it with uvicorn: ``ecgread web``)."""
    from starlette.middleware.base import BaseHTTPMiddleware

    if migrate_db:
        migrate(settings.audit_url)
    web = WebApp(settings)
    routes = [
        Route("/", web.home),
        Route("/login", web.login, methods=["GET", "POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/worklist", web.worklist),
        Route("/ecg/{read_id:int}", web.ecg),
        Route("/ecg/{read_id:int}/sign", web.sign, methods=["POST"]),
        Route("/ecg/{read_id:int}/pdf", web.pdf),
        Route("/quality", web.quality),
        Route("/audit", web.audit),
        Route("/audit/export.csv", web.audit_export),
        Route("/audit/ecg/{sop}", web.audit_ecg),
        Route("/audit/deliveries", web.audit_deliveries),
        Route("/audit/verify", web.audit_verify),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SessionMiddleware, secret_key=secret_key(settings),
                   session_cookie="ecgread_session", max_age=settings.web_session_max_age_s,
                   same_site="strict", https_only=False),
        Middleware(BaseHTTPMiddleware, dispatch=_headers),
    ]
    return Starlette(routes=routes, middleware=middleware)
