"""docker/ is kept correct without a Docker engine: the compose file validates with the
compose client and passes every setting from the env file, passwords are required, the
image's home is owned by its user, and the image's file tree runs as that user."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ecgread.config import settings_doc
from ecgread.config.settings import setting_infos
from ecgread.testing import free_port, wait_for_port
from tests.conftest import REPO
from tests.e2e_helpers import stop

DOCKER = REPO / "docker"


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_copies_what_exists(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    sources = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    assert sources, "no COPY lines"
    for group in sources:
        for src in group:
            assert (REPO / src).exists(), f"{dockerfile} copies missing {src}"
    extra = re.search(r'pip install .*"\.\[(\w+)\]"', text)
    assert extra and extra.group(1) in ("cpu", "gpu")
    # every top-level package installed as ecgread.X (a symlink ecgread/X) is in the image
    copied = {src for group in sources for src in group}
    packages = {p.name for p in (REPO / "ecgread").iterdir() if p.is_symlink()}
    assert "web" in packages and packages <= copied, packages - copied


def test_compose_file_validates(tmp_path):
    out = _compose_config(tmp_path, _filled_example(), "--services")
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"rabbitmq", "postgres", "listener", "worker-cpu",
                                       "worker-gpu", "web"}


def _compose_config(tmp_path, env_text: str | None, *extra: str) -> subprocess.CompletedProcess:
    """``docker-compose config`` on a copy of docker/ with ``env_text`` as ecgread.env."""
    client = shutil.which("docker-compose")
    if client is None:
        pytest.skip("docker-compose client not installed (scripts/setup.sh installs it)")
    work = tmp_path / "docker"
    shutil.copytree(DOCKER, work)
    args = [client, "-f", str(work / "compose.yaml"), "--profile", "gpu"]
    if env_text is not None:
        (work / "ecgread.env").write_text(env_text)
        args += ["--env-file", str(work / "ecgread.env")]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    return subprocess.run([*args, "config", *extra], capture_output=True, text=True, env=env,
                          cwd=work, check=False)


def _as_data(yaml_text: str) -> dict:
    """Parse YAML with the compose client's own interpreter (it ships PyYAML)."""
    client = shutil.which("docker-compose")
    assert client is not None
    interpreter = Path(client).read_text().splitlines()[0][2:].split()
    script = "import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    out = subprocess.run([*interpreter, "-c", script], input=yaml_text, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"no YAML parser beside the compose client: {out.stderr[-200:]}")
    return json.loads(out.stdout)


def _filled_example() -> str:
    """The generated example with passwords set and every setting uncommented."""
    lines = []
    for line in (DOCKER / "ecgread.env.example").read_text().splitlines():
        if line in ("POSTGRES_PASSWORD=", "RABBITMQ_PASSWORD="):
            line += "pw-" + line.split("_")[0].lower()
        elif line.startswith("#ECGREAD_"):
            key = line[1:].split("=", 1)[0]
            line = f"{key}=marker-{key.lower()}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_every_setting_reaches_the_containers_through_the_env_file(tmp_path):
    proc = _compose_config(tmp_path, _filled_example())
    assert proc.returncode == 0, proc.stderr
    services = _as_data(proc.stdout)["services"]
    compose_sets = {f"ECGREAD_{n.upper()}" for n in settings_doc.COMPOSE_SETS}
    for name in ("listener", "worker-cpu", "worker-gpu", "web"):
        environment = services[name]["environment"]
        for info in setting_infos():
            assert info.env in environment, f"{info.env} does not reach {name}"
            if info.env not in compose_sets:
                assert environment[info.env] == f"marker-{info.env.lower()}"
        assert environment["ECGREAD_DATABASE_URL"].startswith(
            "postgresql+psycopg://ecgread:pw-postgres@postgres")
        assert "pw-rabbitmq@rabbitmq" in environment["ECGREAD_BROKER_URL"]
        assert "replicas" not in json.dumps(services[name].get("deploy", {}))
    assert services["listener"]["healthcheck"]["test"][1:] == ["ecgread", "health", "dicom",
                                                               "hl7"]
    assert services["worker-cpu"]["healthcheck"]["test"] == ["NONE"]  # disable: true


def test_web_service_runs_the_web_app_on_the_shared_home(tmp_path):
    """The web service: `ecgread web` on the listener's image and volume (tracings, PDFs,
    outbox), bound inside the container, published to loopback only (plain HTTP), with
    `ecgread health web` as its healthcheck, after the listener (which migrates)."""
    env_text = _filled_example().replace("ECGREAD_WEB_HOST=marker-ecgread_web_host\n", "")
    proc = _compose_config(tmp_path, env_text)
    assert proc.returncode == 0, proc.stderr
    services = _as_data(proc.stdout)["services"]
    web, listener = services["web"], services["listener"]
    assert web["command"] == ["web"] and web["image"] == listener["image"]
    assert web["healthcheck"]["test"][1:] == ["ecgread", "health", "web"]
    assert web["environment"]["ECGREAD_WEB_HOST"] == "0.0.0.0"
    assert web["volumes"] == listener["volumes"] == ["ecgread-data:/var/lib/ecgread:rw"]
    assert web["ports"] == ["127.0.0.1:8080:8080/tcp"]  # compose v1's short syntax
    assert web["depends_on"]["listener"]["condition"] == "service_healthy"


def test_passwords_are_required(tmp_path):
    example = (DOCKER / "ecgread.env.example").read_text()
    proc = _compose_config(tmp_path, example)  # passwords left empty
    assert proc.returncode != 0
    assert "PASSWORD" in proc.stderr
    assert "ecgread:ecgread@" not in (DOCKER / "compose.yaml").read_text()


def test_workers_scale_with_the_scale_flag(tmp_path):
    proc = _compose_config(tmp_path, _filled_example())
    worker = _as_data(proc.stdout)["services"]["worker-cpu"]
    assert "container_name" not in worker and "ports" not in worker  # --scale needs neither
    assert "--scale worker-cpu=" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_home_is_created_and_owned_before_the_volume(dockerfile):
    lines = [ln.strip() for ln in (DOCKER / dockerfile).read_text().splitlines()]
    text = "\n".join(lines)
    home = re.search(r"ECGREAD_HOME=(\S+)", text).group(1)  # type: ignore[union-attr]
    user = re.search(r"^USER (\S+)", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    chown = re.search(rf"chown {user}:{user} {re.escape(home)}", text)
    volume = re.search(rf"^VOLUME {re.escape(home)}", text, re.MULTILINE)
    assert chown and volume and chown.start() < volume.start()
    assert re.search(rf"mkdir -p {re.escape(home)}", text)


@pytest.fixture
def open_tmp():
    """A temporary folder another user can traverse (pytest's own is private to root)."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="ecgread-image-") as name:
        Path(name).chmod(0o755)
        yield Path(name)


def test_the_image_tree_runs_as_an_unprivileged_user(open_tmp):
    """The Dockerfile's COPY lines into a root, its home made as the RUN line makes it,
    and `ecgread serve` run as an unprivileged user there: it creates its store, opens
    both listeners, and answers `ecgread health`."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as another user")
    tmp_path = open_tmp
    root = tmp_path / "image"
    app = root / "opt" / "ecgread"
    app.mkdir(parents=True)
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            for src in sources:
                target = app / dest if dest != "./" else app / src
                if (REPO / src).is_dir():
                    shutil.copytree(REPO / src, app / dest, symlinks=True,
                                    ignore=shutil.ignore_patterns("__pycache__", "weights"))
                else:
                    shutil.copy(REPO / src, target if dest != "./" else app / Path(src).name)
    # model weights are large: link them rather than copy (read-only for the user)
    (app / "models" / "weights").symlink_to(REPO / "models" / "weights")
    home = root / "var" / "lib" / "ecgread"
    home.mkdir(parents=True)
    uid = 10001
    os.chown(home, uid, uid)
    for d in (root, root / "var", root / "var" / "lib"):
        d.chmod(0o755)
    dport, hport = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(app), "HOME": str(home),
           "ECGREAD_HOME": str(home), "ECGREAD_DICOM_HOST": "127.0.0.1",
           "ECGREAD_HL7_HOST": "127.0.0.1", "ECGREAD_DICOM_PORT": str(dport),
           "ECGREAD_HL7_PORT": str(hport), "PYTHONUNBUFFERED": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([*as_user, sys.executable, "-m", "ecgread", "serve"], cwd=app,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        try:
            wait_for_port(hport, 120)
        except TimeoutError:
            pytest.fail((tmp_path / "serve.log").read_text()[-3000:])
        health = subprocess.run([*as_user, sys.executable, "-m", "ecgread", "health"],
                                cwd=app, env=env, capture_output=True, text=True, timeout=60,
                                check=False)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        stop(proc)
    text = (tmp_path / "serve.log").read_text()
    assert f"home {home}" in text, text
    assert (home / "store").is_dir() and (home / "audit.db").is_file()
    assert (home / "audit.db").stat().st_uid == uid
