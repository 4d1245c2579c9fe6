from pathlib import Path

import pytest

from ecgread.config.settings import load_settings
from ecgread.errors import ConfigError


def test_defaults_are_embedded():
    s = load_settings(environ={})
    assert s.broker_url == ""
    assert s.audit_url.startswith("sqlite:///") and s.audit_url.endswith("audit.db")
    assert s.dicom_port == 11112 and s.hl7_port == 2575


def test_environment_then_overrides():
    env = {"ECGREAD_DICOM_PORT": "104",
           "ECGREAD_DICOM_ALLOWED_PEERS": "CART1@10.0.0.5, CART2@10.0.1.0/24",
           "ECGREAD_HOME": "/data/ecg", "ECGREAD_RETRY_INITIAL_S": "2.5"}
    s = load_settings({"dicom_port": 11113, "hl7_port": None}, environ=env)
    assert s.dicom_port == 11113  # the command line wins over the environment
    assert s.hl7_port == 2575  # None means "not given"
    assert s.dicom_allowed_peers == ("CART1@10.0.0.5", "CART2@10.0.1.0/24")
    assert s.home == Path("/data/ecg") and s.store_dir == Path("/data/ecg/store")
    assert s.retry_initial_s == 2.5


@pytest.mark.parametrize("env", [
    {"ECGREAD_DICOM_PORT": "eleven"},
    {"ECGREAD_PAGE_SIZE": "A3"},
    {"ECGREAD_EHR_HOST": "ehr.example"},  # a host without a port
    {"ECGREAD_RETRY_INITIAL_S": "900", "ECGREAD_RETRY_MAX_INTERVAL_S": "60"},
    {"ECGREAD_QUEUE_PREFIX": "site a/"},  # not a safe queue name
    {"ECGREAD_QUEUE_PREFIX": "x" * 65},
])
def test_invalid_settings_are_refused(env):
    with pytest.raises(ConfigError):
        load_settings(environ=env)


def test_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"dicom_prot": 1}, environ={})


def test_queue_prefix_names_every_queue_and_exchange():
    from ecgread.workers.celery_app import make_celery
    from ecgread.workers.queues import ALL_QUEUES, queue_name

    s = load_settings(environ={"ECGREAD_QUEUE_PREFIX": "site-a."})
    assert [queue_name(s, q) for q in ALL_QUEUES] == [
        "site-a.deliveries.critical", "site-a.reads", "site-a.deliveries", "site-a.batch"]
    conf = make_celery(s).conf
    assert {q.name for q in conf.task_queues} == {
        "site-a.deliveries.critical", "site-a.reads", "site-a.deliveries"}
    assert {q.exchange.name for q in conf.task_queues} == {"site-a.ecgread"}
    assert conf.task_default_queue == "site-a.reads"
    assert conf.control_exchange == "site-a.celery"
