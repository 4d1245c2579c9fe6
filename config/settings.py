"""Typed settings, loaded once.

Each key has an environment variable (``ECGREAD_<KEY>``) and a documented default;
command-line options override the environment. Loading settings connects to nothing.

Example
-------
>>> s = load_settings({"dicom_port": 11113})
>>> s.dicom_port
11113
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ecgread.errors import ConfigError


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


#: Limits that must be positive (a zero would refuse everything or disable a timeout).
_POSITIVE = ("dicom_max_associations", "dicom_acse_timeout_s", "dicom_idle_timeout_s",
             "dicom_max_object_bytes", "dicom_max_inflated_bytes", "max_samples",
             "hl7_max_message_bytes", "hl7_max_connections", "hl7_idle_timeout_s",
             "hl7_max_orders", "hl7_max_repetitions", "read_max_attempts",
             "audit_checkpoint_every")


@dataclass(frozen=True)
class Settings:
    #: Working directory: received objects, reports, outbox files, SQLite database.
    home: Path = Path("var")
    #: SQLAlchemy URL of the audit database; empty means SQLite at ``home/audit.db``.
    database_url: str = ""
    #: Celery broker (``amqp://guest@localhost//``); empty means in-process (eager) reads.
    broker_url: str = ""

    # DICOM listener (integration.dicom_scp)
    dicom_ae_title: str = "ECGREAD"
    #: Bind address; empty: loopback (127.0.0.1). Production mode refuses an empty one.
    dicom_host: str = ""
    dicom_port: int = 11112
    #: Peers allowed to associate, ``CALLING_AE@HOST`` (HOST an IP address or a network
    #: such as ``10.1.2.0/24``); empty allows any (refused in production mode).
    dicom_allowed_peers: tuple[str, ...] = ()
    #: The DICOM listener speaks TLS only (DICOM PS3.15 B.9 BCP 195 profile).
    dicom_tls: bool = False
    #: Minimum free bytes left on the disk of ``home`` after writing a received object
    #: or message: below it C-STOREs get 0xA700 (out of resources) and HL7 messages AE 207.
    store_min_free_bytes: int = 64 * 1024 * 1024
    #: Most simultaneous DICOM associations; one more is rejected (transient, local limit
    #: exceeded, PS3.8 9.3.4) and recorded.
    dicom_max_associations: int = 32
    #: Seconds a new connection may take to send its A-ASSOCIATE-RQ (ACSE/ARTIM timeout).
    dicom_acse_timeout_s: float = 10.0
    #: Seconds an association may stay silent before it is aborted (network timeout).
    dicom_idle_timeout_s: float = 60.0
    #: Largest received DICOM data set (bytes, as sent); larger ones are aborted and recorded.
    dicom_max_object_bytes: int = 64 * 1024 * 1024
    #: Largest data set once inflated (Deflated Explicit VR Little Endian), bytes: checked
    #: by a bounded inflate before the data set is parsed.
    dicom_max_inflated_bytes: int = 64 * 1024 * 1024
    #: Most waveform samples in one ECG (channels x samples, all multiplex groups).
    max_samples: int = 16_000_000

    # HL7 listener (integration.hl7_listener)
    #: Bind address; empty: loopback (127.0.0.1). Production mode refuses an empty one.
    hl7_host: str = ""
    hl7_port: int = 2575
    #: Senders allowed, ``MSH-3^MSH-4@HOST`` (HOST an IP address or a network); others get
    #: AR. Empty allows any (refused in production mode).
    hl7_allowed_peers: tuple[str, ...] = ()
    #: The HL7 listener speaks MLLP over TLS only.
    hl7_tls: bool = False
    #: Our own application/facility in MSH-3/MSH-4 of what we send.
    hl7_sending_application: str = "ECGREAD"
    hl7_sending_facility: str = "CARDIOLOGY"
    #: Largest MLLP frame (bytes); a larger one gets AR and the connection is closed.
    hl7_max_message_bytes: int = 1024 * 1024
    #: Most simultaneous MLLP connections; one more is closed at once and recorded.
    hl7_max_connections: int = 32
    #: Seconds an MLLP connection may stay silent before it is closed.
    hl7_idle_timeout_s: float = 600.0
    #: Most orders (ORC segments) in one message; more gets AR.
    hl7_max_orders: int = 50
    #: Most repetitions of one field (``~``) in one message; more gets AR.
    hl7_max_repetitions: int = 100

    # Order matching
    #: Patient ID + acquisition time window (minutes) for ECGs without an accession match.
    match_window_min: int = 240

    # EHR delivery (outbound MLLP); empty host writes ORU messages to ``home/outbox``.
    ehr_host: str = ""
    ehr_port: int = 0
    ehr_receiving_application: str = "EHR"
    ehr_receiving_facility: str = "HOSPITAL"
    #: Outbound MLLP to the EHR over TLS (server verified against ``tls_ca_file``).
    ehr_tls: bool = False
    ack_timeout_s: float = 30.0
    retry_initial_s: float = 5.0
    retry_max_interval_s: float = 600.0
    #: How long a delivery is retried before it goes to the dead-letter state.
    retry_give_up_after_s: float = 86400.0

    # PACS delivery of the report as Encapsulated PDF (optional)
    pacs_ae_title: str = ""
    pacs_host: str = ""
    pacs_port: int = 0
    #: Outbound C-STORE to PACS over TLS (server verified against ``tls_ca_file``).
    pacs_tls: bool = False

    # TLS (integration.tls): one certificate for both listeners and as our client
    # certificate outbound; TLS 1.2 or newer, BCP 195 cipher suites.
    #: PEM certificate chain and private key of this service.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: PEM CA certificates that sign peers' certificates (client certificates of carts and
    #: EHR senders; server certificates of the EHR and PACS). Empty: the system store.
    tls_ca_file: str = ""
    #: Client certificates on the listeners: "none", "optional" (verified when sent) or
    #: "required".
    tls_client_auth: str = "none"

    # Security
    #: Production mode: refuses to start without allowlists, explicit bind addresses and
    #: an audit HMAC key (``ECGREAD_PRODUCTION=1``).
    production: bool = False
    #: HMAC key anchoring the audit event chain (at least 32 characters, e.g.
    #: ``openssl rand -hex 32``); or ``audit_hmac_key_file``, a file holding it (mode 0600).
    audit_hmac_key: str = ""
    audit_hmac_key_file: str = ""
    #: A signed checkpoint of the event chain every this many events (and at start and stop).
    audit_checkpoint_every: int = 100
    #: Where the latest checkpoint is copied, outside the database; empty:
    #: ``home/audit-checkpoint.json``. Keep it (or a copy) off the database's disk.
    audit_checkpoint_file: str = ""

    # Reads
    #: Read attempts of one ECG (counted across restarts) before it is ``failed``.
    read_max_attempts: int = 3

    # Reporting
    page_size: str = "A4"  # "A4" or "Letter", landscape

    # Models
    model_registry: Path = Path(__file__).with_name("models.toml")
    delineator: str = "fused"  # "fused", "dsp" or "network"

    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.page_size not in ("A4", "Letter"):
            raise ConfigError(f"page_size must be A4 or Letter, got {self.page_size!r}")
        if self.delineator not in ("fused", "dsp", "network"):
            raise ConfigError(f"delineator must be fused, dsp or network, got {self.delineator!r}")
        if bool(self.ehr_host) != bool(self.ehr_port):
            raise ConfigError("ehr_host and ehr_port go together")
        if bool(self.pacs_host) != bool(self.pacs_port) or bool(self.pacs_host) != bool(
            self.pacs_ae_title
        ):
            raise ConfigError("pacs_ae_title, pacs_host and pacs_port go together")
        if self.retry_initial_s <= 0 or self.retry_max_interval_s < self.retry_initial_s:
            raise ConfigError("need 0 < retry_initial_s <= retry_max_interval_s")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.store_min_free_bytes < 0:
            raise ConfigError("store_min_free_bytes must not be negative")

    @property
    def audit_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'audit.db').resolve()}"

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"


def _coerce(f: dataclasses.Field[Any], raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no", ""):
                raise ValueError(raw)
            return raw.strip().lower() in ("1", "true", "yes")
        if kind == "Path":
            return Path(raw)
        if kind.startswith("tuple"):
            return _csv(raw)
    except ValueError as exc:
        raise ConfigError(f"ECGREAD_{f.name.upper()}: cannot read {raw!r} as {kind}") from exc
    return raw


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from defaults, then ``ECGREAD_*`` environment variables, then ``overrides``.

    ``overrides`` holds command-line values; keys whose value is None are ignored.
    Raises :class:`ConfigError` on an unknown key or a value that does not parse.
    """
    env = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"ECGREAD_{name.upper()}"
        if key in env:
            values[name] = _coerce(f, env[key])
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in fields:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(fields[name], value)
    return Settings(**values)
