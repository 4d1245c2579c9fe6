"""Security of the edges (issue 11, point 7), with real peers on loopback.

A throwaway CA, server and client certificates are made with the ``openssl`` command.
DICOM TLS is exercised with DCMTK's ``storescu``/``echoscu --enable-tls`` (DCMTK's default
BCP 195 non-downgrading profile) and pynetdicom as our outbound PACS client; MLLP over
TLS with Python ``ssl`` sockets and our outbound :class:`MllpClient`. Allowlists, the
called AE title, production-mode start-up, loopback binding and file modes (under a
zero umask) are checked against the running listeners and their audit trail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from sqlmodel import col, select

from ecgread.audit.db import session_scope
from ecgread.audit.tables import Event, Received
from ecgread.config.settings import Settings, load_settings
from ecgread.errors import ConfigError, DeliveryError
from ecgread.integration import dicom_scp, hl7_listener
from ecgread.integration.mllp import MllpReader, frame
from ecgread.integration.mllp_client import MllpClient
from ecgread.integration.pacs_store import send_to_pacs
from ecgread.integration.security import (
    LOOPBACK,
    check_production,
    client_context,
    parse_peers,
    peer_allowed,
)
from tests.conftest import REPO
from tests.e2e_helpers import wait_until
from tests.hl7_samples import message, msh, orm_o01
from tests.test_dicom_scp import SAMPLE, storescu

pytestmark = pytest.mark.skipif(
    shutil.which("storescu") is None or shutil.which("openssl") is None,
    reason="DCMTK and the openssl command are needed")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem; server.pem/-key.pem (127.0.0.1, localhost); client.pem/-key.pem; and a
    rogue client certificate from another CA."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", f"/CN=ecgread test {ca}", "-keyout", f"{ca}-key.pem",
                 "-out", f"{ca}.pem", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca in (("server", "ca"), ("client", "ca"), ("rogue", "rogue-ca")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                 f"{ca}-key.pem", "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
                 "-out", f"{name}.pem", cwd=d)
    return d


def _settings(tmp_path: Path, pki: Path | None = None, **overrides: object) -> Settings:
    base: dict[str, object] = {"home": tmp_path / "home", "dicom_port": 0, "hl7_port": 0,
                               "store_min_free_bytes": 0}
    if pki is not None:
        base.update(tls_cert_file=str(pki / "server.pem"), tls_key_file=str(pki / "server-key.pem"),
                    tls_ca_file=str(pki / "ca.pem"))
    base.update(overrides)
    return load_settings(base, environ={})


@pytest.fixture
def servers() -> Iterator[list]:
    running: list = []
    yield running
    for server in running:
        server.shutdown()
        if hasattr(server, "server_close"):
            server.server_close()


def _scp(servers: list, settings: Settings) -> int:
    server = dicom_scp.serve(settings, on_stored=lambda uid: None, block=False)
    servers.append(server)
    return int(server.server_address[1])


def _mllp(servers: list, settings: Settings) -> int:
    server = hl7_listener.serve(settings, block=False)
    servers.append(server)
    return int(server.server_address[1])


def _tls_args(pki: Path, cert: str = "client") -> tuple[str, ...]:
    return ("+tls", str(pki / f"{cert}-key.pem"), str(pki / f"{cert}.pem"),
            "+cf", str(pki / "ca.pem"))


def _events(settings: Settings, action: str) -> list[dict]:
    with session_scope(settings.audit_url) as s:
        rows = s.exec(select(Event).where(Event.action == action).order_by(col(Event.id)))
        return [json.loads(e.detail_json) for e in rows]


# --- DICOM over TLS, with DCMTK ------------------------------------------------------

def test_dcmtk_stores_and_echoes_over_tls_with_a_client_certificate(servers, tmp_path, pki):
    settings = _settings(tmp_path, pki, dicom_tls=True, tls_client_auth="required")
    port = _scp(servers, settings)
    assert servers[0].server_address[0] == LOOPBACK  # not told: loopback
    responses, proc = storescu(port, SAMPLE, extra=_tls_args(pki))
    assert [r.status for r in responses] == [0], proc.stderr[-2000:]
    echo = subprocess.run(["echoscu", "-aet", "CART1", "-aec", "ECGREAD", *_tls_args(pki),
                           "127.0.0.1", str(port)], capture_output=True, text=True, timeout=60)
    assert echo.returncode == 0, echo.stderr
    # Plain TCP to the TLS port, and TLS with a certificate from another CA: no association.
    plain, _ = storescu(port, SAMPLE)
    rogue, _ = storescu(port, SAMPLE, extra=_tls_args(pki, "rogue"))
    anonymous, _ = storescu(port, SAMPLE, extra=("+tla", "+cf", str(pki / "ca.pem")))
    assert plain == rogue == anonymous == []
    events = wait_until(lambda: len(_events(settings, "ecgread.dicom.connection.rejected")) >= 3
                        and _events(settings, "ecgread.dicom.connection.rejected"), 30)
    reasons = [d["reason"] for d in events or []]
    assert len(reasons) == 3 and all(r.startswith("TLS handshake failed") for r in reasons)
    with session_scope(settings.audit_url) as s:
        assert len(s.exec(select(Received)).all()) == 1


def test_silent_tls_client_does_not_block_other_senders(servers, tmp_path, pki):
    settings = _settings(tmp_path, pki, dicom_tls=True, dicom_acse_timeout_s=30)
    port = _scp(servers, settings)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        responses, proc = storescu(port, SAMPLE, extra=_tls_args(pki))
        assert [r.status for r in responses] == [0], proc.stderr[-2000:]
    finally:
        for s in idle:
            s.close()


def test_tls_below_1_2_and_non_bcp195_ciphers_are_refused(servers, tmp_path, pki):
    settings = _settings(tmp_path, pki, hl7_tls=True)
    port = _mllp(servers, settings)
    weak = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    weak.load_verify_locations(pki / "ca.pem")
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-GCM-SHA384")  # RSA key exchange: not in BCP 195
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            weak.wrap_socket(raw, server_hostname="127.0.0.1")
    good = client_context(settings)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with good.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_outbound_pacs_c_store_over_tls(servers, tmp_path, pki):
    listener = _settings(tmp_path, pki, dicom_tls=True, tls_client_auth="required")
    port = _scp(servers, listener)
    ours = _settings(tmp_path / "sender", pki, pacs_tls=True, pacs_host="localhost",
                     pacs_port=port, pacs_ae_title="ECGREAD", dicom_ae_title="REPORTER",
                     tls_cert_file=str(pki / "client.pem"),
                     tls_key_file=str(pki / "client-key.pem"))
    assert send_to_pacs(ours, pydicom.dcmread(SAMPLE)) == 0
    untrusted = _settings(tmp_path / "sender", pki, pacs_tls=True, pacs_host="localhost",
                          pacs_port=port, pacs_ae_title="ECGREAD",
                          tls_ca_file=str(pki / "rogue-ca.pem"))
    with pytest.raises(DeliveryError):
        send_to_pacs(untrusted, pydicom.dcmread(SAMPLE))


# --- MLLP over TLS -----------------------------------------------------------------

def _exchange(sock: socket.socket, raw: bytes) -> str:
    sock.sendall(frame(raw))
    reader = MllpReader()
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return ""
        if not data:
            return ""
        got = reader.feed(data)
        if got:
            return got[0].decode()


def test_mllp_over_tls_inbound_and_outbound(servers, tmp_path, pki):
    settings = _settings(tmp_path, pki, hl7_tls=True, tls_client_auth="optional")
    port = _mllp(servers, settings)
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.load_cert_chain(pki / "client.pem", pki / "client-key.pem")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert "MSA|AA|ORM0001" in _exchange(tls, orm_o01("ORM0001"))
    # Plain MLLP to the TLS port gets no ACK, and the failed handshake is recorded.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        assert _exchange(raw, orm_o01("ORM0002")) == ""
    rejected = wait_until(lambda: _events(settings, "ecgread.hl7.connection.rejected"), 30)
    assert rejected and rejected[0]["reason"].startswith("TLS handshake failed")
    # Our outbound client (the EHR delivery path) against the TLS listener.
    client = MllpClient("localhost", port, 30, client_context(settings))
    try:
        assert client.send(orm_o01("ORM0003").decode()).code == "AA"
    finally:
        client.close()
    rogue = load_settings({"tls_ca_file": str(pki / "rogue-ca.pem")}, environ={})
    with pytest.raises(DeliveryError, match="TLS"):
        MllpClient("localhost", port, 30, client_context(rogue)).send(
            orm_o01("ORM0004").decode())


# --- allowlists and the called AE title ---------------------------------------------

def test_parse_and_match_peers():
    rules = parse_peers(("CART1@10.1.2.0/24", "EPIC^UMC@127.0.0.1"), "x")
    assert peer_allowed(rules, "CART1", "10.1.2.9")
    assert not peer_allowed(rules, "CART1", "10.1.3.9")
    assert peer_allowed(rules, "EPIC^UMC", "::ffff:127.0.0.1")
    assert peer_allowed((), "ANY", "1.2.3.4")
    for bad in ("CART1", "@10.0.0.1", "CART1@host.example"):
        with pytest.raises(ConfigError):
            parse_peers((bad,), "dicom_allowed_peers")


def test_called_ae_title_must_be_ours(servers, tmp_path):
    settings = _settings(tmp_path)
    port = _scp(servers, settings)
    proc = subprocess.run(["echoscu", "-aet", "CART1", "-aec", "OTHERSCP", "127.0.0.1",
                           str(port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Called AE Title Not Recognized" in proc.stdout + proc.stderr
    detail = _events(settings, "ecgread.dicom.association.rejected")[0]
    assert detail["diagnostic"] == "CALLED_AE_TITLE_NOT_RECOGNIZED"
    assert detail["called_ae"] == "OTHERSCP"


def test_dicom_allowlist_is_calling_ae_and_host_pairs(servers, tmp_path):
    settings = _settings(tmp_path, dicom_allowed_peers=("CART1@127.0.0.1", "CART2@10.9.0.0/16"))
    port = _scp(servers, settings)
    ok, _ = storescu(port, SAMPLE, aet="CART1")
    wrong_host, _ = storescu(port, SAMPLE, aet="CART2")
    unknown, proc = storescu(port, SAMPLE, aet="INTRUDER")
    assert [r.status for r in ok] == [0] and wrong_host == unknown == []
    assert "Calling AE Title Not Recognized" in proc.stdout + proc.stderr
    reasons = [d["reason"] for d in _events(settings, "ecgread.dicom.association.rejected")]
    assert reasons == ["calling AE not allowed from this address", "calling AE not allowed"]


def test_hl7_allowlist_answers_ar_with_the_reason_and_records_it(servers, tmp_path):
    settings = _settings(tmp_path, hl7_allowed_peers=("EPIC^UMC@127.0.0.1",))
    port = _mllp(servers, settings)
    forged = message(msh("ORM0009", sender="ROGUE", facility="UMC"),
                     *orm_o01("X").decode().split("\r")[1:-1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        assert "MSA|AA|ORM0001" in _exchange(sock, orm_o01("ORM0001"))
        ack = _exchange(sock, forged)
    assert "MSA|AR|ORM0009" in ack and "not allowed" in ack
    with session_scope(settings.audit_url) as s:
        rejected = s.exec(select(Received).where(Received.identifier == "ORM0009")).one()
    assert rejected.status == "AR" and "MSH-3/MSH-4" in (rejected.reason or "")
    assert rejected.path is None  # never stored
    assert _events(settings, "ecgread.hl7.rejected")[0]["ack"] == "AR"


# --- production mode, bind addresses ---------------------------------------------------

def test_production_mode_refuses_what_is_missing(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text("k" * 40)
    key_file.chmod(0o600)
    complete = {"production": True, "dicom_host": "10.0.0.2", "hl7_host": "10.0.0.2",
                "dicom_allowed_peers": ("CART1@10.0.0.0/24",),
                "hl7_allowed_peers": ("EPIC^UMC@10.0.1.5",),
                "audit_hmac_key_file": str(key_file)}
    check_production(_settings(tmp_path, **complete))
    for name, value, says in (("dicom_host", "", "dicom_host"),
                              ("dicom_allowed_peers", (), "dicom_allowed_peers is empty"),
                              ("hl7_allowed_peers", (), "hl7_allowed_peers is empty"),
                              ("audit_hmac_key_file", "", "no audit HMAC key")):
        with pytest.raises(ConfigError, match=says):
            check_production(_settings(tmp_path, **{**complete, name: value}))
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by group or others"):
        check_production(_settings(tmp_path, **complete))


def test_serve_in_production_without_allowlists_stops_with_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECGREAD_HOME": str(tmp_path / "home"),
           "ECGREAD_PRODUCTION": "1", "ECGREAD_DICOM_HOST": "127.0.0.1",
           "ECGREAD_HL7_HOST": "127.0.0.1", "ECGREAD_AUDIT_HMAC_KEY": "k" * 40}
    proc = subprocess.run([sys.executable, "-m", "ecgread", "serve", "--dicom-port", "0",
                           "--hl7-port", "0"], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("ecgread: production mode: dicom_allowed_peers is empty")
    assert not (tmp_path / "home" / "audit.db").exists()  # refused before anything


# --- file modes ------------------------------------------------------------------------

def test_phi_files_are_0600_and_folders_0700_whatever_the_umask(servers, tmp_path):
    old = os.umask(0)
    try:
        settings = _settings(tmp_path)
        port = _scp(servers, settings)
        ok, _ = storescu(port, SAMPLE)
        hl7_port = _mllp(servers, settings)
        with socket.create_connection(("127.0.0.1", hl7_port), timeout=30) as sock:
            assert "MSA|AA" in _exchange(sock, orm_o01("ORM0001"))
    finally:
        os.umask(old)
    assert [r.status for r in ok] == [0]
    home = settings.home
    files = [p for p in home.rglob("*") if p.is_file()]
    folders = [p for p in home.rglob("*") if p.is_dir()]
    assert any(p.suffix == ".dcm" for p in files) and any(p.suffix == ".hl7" for p in files)
    assert any(p.name == "audit.db" for p in files)
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}, files
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}, folders
