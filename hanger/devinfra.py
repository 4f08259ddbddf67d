"""Local infrastructure for development, tests and the demo: a real Apache Kafka broker (KRaft,
single node, from Maven Central jars) and a real PostgreSQL server, on loopback.

``hanger dev up`` is idempotent (a running service is left alone), ``hanger dev down`` stops only
what it started (by the pid it recorded), ``hanger dev status`` tells what runs. Data, pids and logs
live under ``settings.state_dir``; the Kafka jars are cached under ``settings.cache_dir``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from hanger.errors import ConfigError
from hanger.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
KAFKA_LOG4J = REPO_ROOT / "infra" / "kafka" / "log4j.properties"
PG_SYSTEM_USER = "postgres"  # PostgreSQL refuses to run as root; Debian's package creates this user


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    detail: str = ""


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        if state == "Z":
            return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def _wait_until(check: object, timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    tail = ""
    with contextlib.suppress(OSError):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    raise ConfigError("start_timeout", f"{what} not ready after {timeout_s:.0f}s; log {log}:\n{tail}")


# --- Kafka ---------------------------------------------------------------------------------------


class LocalKafka:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.home = settings.state_dir.resolve() / "kafka"
        self.libs = settings.cache_dir.expanduser() / f"kafka-{settings.kafka_version}" / "libs"
        self.pid_file = self.home / "kafka.pid"
        self.log_file = self.home / "kafka.log"
        self.properties = self.home / "server.properties"

    def ensure_jars(self) -> None:
        """Resolve kafka_2.13 and its runtime dependencies with Maven (once; cached)."""
        marker = self.libs.parent / "complete"
        if marker.exists():
            return
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise ConfigError("no_jdk", "Kafka needs a JDK (java) and Maven (mvn) on PATH")
        self.libs.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "mvn", "-q", "-B", "-f", str(KAFKA_POM),
                f"-Dkafka.version={self.s.kafka_version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime",
            ],
            check=True,
        )
        if not glob.glob(str(self.libs / "kafka_2.13-*.jar")):
            raise ConfigError("kafka_jars", f"Maven did not deliver kafka_2.13 into {self.libs}")
        marker.write_text(self.s.kafka_version)

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        port, cport = self.s.kafka_port, self.s.kafka_controller_port
        self.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{cport}",
                    f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.home / 'data'}",
                    "num.partitions=6",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "message.max.bytes=2097152",
                    "log.retention.hours=720",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "log.flush.interval.ms=1000",
                    "",
                ]
            )
        )

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.s.kafka_heap}", f"-Xms{self.s.kafka_heap}",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
            f"-Dlog4j.configuration=file:{KAFKA_LOG4J}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def status(self) -> ServiceStatus:
        pid = _read_pid(self.pid_file)
        return ServiceStatus(
            "kafka", pid is not None and _port_open(self.s.kafka_port), pid,
            f"127.0.0.1:{self.s.kafka_port}", f"Apache Kafka {self.s.kafka_version} (KRaft)",
        )

    def up(self) -> ServiceStatus:
        if self.status().running:
            return self.status()
        if _read_pid(self.pid_file) is None and _port_open(self.s.kafka_port):
            raise ConfigError(
                "port_in_use",
                f"port {self.s.kafka_port} is taken by a process we did not start; "
                "set HANGER_KAFKA_PORT or stop it",
            )
        self.ensure_jars()
        self._write_config()
        if not (self.home / "data" / "meta.properties").exists():
            subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()),
                           "-c", str(self.properties), "--ignore-formatted"),
                check=True, stdout=subprocess.DEVNULL,
            )
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self.properties)),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        _wait_until(lambda: proc.poll() is None and _broker_ready(self.s), 120,
                    "Kafka broker", self.log_file)
        return self.status()

    def down(self) -> bool:
        pid = _read_pid(self.pid_file)
        if pid is None:
            return False
        _terminate(pid, 60)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the broker (fault injection in reliability tests)."""
        pid = _read_pid(self.pid_file)
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            _wait_gone(pid, 30)


def _broker_ready(settings: Settings) -> bool:
    """The broker answers a metadata request (the port alone opens before it serves)."""
    if not _port_open(settings.kafka_port):
        return False
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{settings.kafka_port}", request_timeout_ms=3000
        )
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    return asyncio.run(probe())


def _terminate(pid: int, timeout_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout_s):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _wait_gone(pid, 10)


def _wait_gone(pid: int, timeout_s: float, *, reaped: bool = False) -> bool:
    """Wait until ``pid`` is dead (a zombie counts as dead), or with ``reaped`` until it has left
    the process table. A killed PostgreSQL is reaped by init, which here takes 1-2 s; until then
    its lock-file check still sees the PID as alive and refuses to start ("lock file
    postmaster.pid already exists")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not (Path(f"/proc/{pid}").exists() if reaped else _pid_alive(pid)):
            return True
        time.sleep(0.05)
    return False


# --- PostgreSQL ----------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Folder of initdb/pg_ctl/postgres: Debian's newest installed major version."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ConfigError(
        "no_postgres",
        "PostgreSQL server binaries not found; `scripts/setup` installs Debian's postgresql package",
    )


def _reachable_by_others(path: Path) -> bool:
    """Every folder from / to ``path`` lets other users through (the postgres user must reach
    its data directory when we run as root)."""
    return all(not folder.exists() or folder.stat().st_mode & 0o001
               for folder in [path, *path.parents])


def _postgres_home(state_dir: Path) -> Path:
    """Where the local server keeps its data: inside the state folder, unless the checkout lives
    where the postgres system user cannot go (e.g. under /root); then a per-checkout folder in
    /var/tmp, so `dev up` works wherever the repository was cloned."""
    home = state_dir / "postgres"
    if os.geteuid() != 0 or _reachable_by_others(state_dir):
        return home
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    # One folder per checkout, chowned to postgres by up(); not a shared temp file.
    return Path("/var/tmp") / f"hanger-postgres-{digest}"  # noqa: S108


class LocalPostgres:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.home = _postgres_home(settings.state_dir.resolve())
        self.data = self.home / "data"
        self.log_file = self.home / "postgres.log"
        self.socket_dir = self.home / "run"

    def _as_pg_user(self, cmd: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return cmd
        return ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _pid(self) -> int | None:
        return _read_pid(self.data / "postmaster.pid")

    def status(self) -> ServiceStatus:
        pid = self._pid()
        return ServiceStatus(
            "postgres", pid is not None and _port_open(self.s.postgres_port), pid,
            f"127.0.0.1:{self.s.postgres_port}", "PostgreSQL " + postgres_bindir().parent.name,
        )

    def up(self) -> ServiceStatus:
        if self.status().running:
            return self.status()
        if self._pid() is None and _port_open(self.s.postgres_port):
            raise ConfigError(
                "port_in_use",
                f"port {self.s.postgres_port} is taken by a process we did not start; "
                "set HANGER_POSTGRES_PORT or stop it",
            )
        stale = self._pid()
        if stale is not None and not _pid_alive(stale):
            _wait_gone(stale, 30, reaped=True)  # a server that was killed: its lock file names a zombie
        bindir = postgres_bindir()
        for folder in (self.home, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            self._chown(folder)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                self._as_pg_user([
                    str(bindir / "initdb"), "-D", str(self.data), "-U", "hanger",
                    "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
                ]),
                check=True, stdout=subprocess.DEVNULL,
            )
        self.log_file.touch()
        self._chown(self.log_file)
        # fsync and full-page writes guard against an OS crash or power loss only, which a dev
        # box can afford. synchronous_commit stays on: with it off, a commit returns before its WAL
        # is written, so a killed server loses transactions it had acknowledged. (The
        # restart_postgres fault found it: a worker stored a batch, committed its Kafka offsets,
        # and the batch's rows were gone after the restart; the run then waited forever.)
        options = (
            f"-p {self.s.postgres_port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        subprocess.run(
            self._as_pg_user([
                str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file),
                "-o", options, "-w", "-t", "60", "start",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
        _wait_until(lambda: _port_open(self.s.postgres_port), 60, "PostgreSQL", self.log_file)
        self._ensure_database()
        return self.status()

    def _ensure_database(self) -> None:
        bindir = postgres_bindir()
        psql = [str(bindir.parent / "bin" / "psql") if (bindir / "psql").exists() else "psql"]
        base = [*psql, "-h", "127.0.0.1", "-p", str(self.s.postgres_port), "-U", "hanger"]
        exists = subprocess.run(
            [*base, "-d", "postgres", "-tAc", "SELECT 1 FROM pg_database WHERE datname='hanger'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run([*base, "-d", "postgres", "-c", "CREATE DATABASE hanger"],
                           check=True, stdout=subprocess.DEVNULL)

    def down(self) -> bool:
        if self._pid() is None:
            return False
        subprocess.run(
            self._as_pg_user([str(postgres_bindir() / "pg_ctl"), "-D", str(self.data),
                              "-m", "fast", "-w", "stop"]),
            check=False, stdout=subprocess.DEVNULL,
        )
        return True

    def kill(self) -> None:
        """SIGKILL the postmaster (fault injection in reliability tests)."""
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 30, reaped=True)


def up(settings: Settings) -> list[ServiceStatus]:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return [LocalPostgres(settings).up(), LocalKafka(settings).up()]


def down(settings: Settings) -> list[str]:
    stopped = []
    if LocalKafka(settings).down():
        stopped.append("kafka")
    if LocalPostgres(settings).down():
        stopped.append("postgres")
    return stopped


def status(settings: Settings) -> list[ServiceStatus]:
    return [LocalPostgres(settings).status(), LocalKafka(settings).status()]
