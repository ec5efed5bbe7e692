"""Running gunicorn for benchmarks: what every benchmark script needs from its servers."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

HOST = "127.0.0.1"
STOP_DEADLINE_S = 10.0


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The end of a server's log, to explain a failed start without hunting for files."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Graceful stop, then kill: never leave a gunicorn behind, whatever happened."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class BenchmarkError(RuntimeError):
    """A benchmark cannot give a trustworthy number (a server failed, an answer was wrong)."""


def wait_until_ready(
    name: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    port: int,
    path: str,
    is_ready: Callable[[int, bytes], bool],
    deadline_s: float,
) -> None:
    """Poll ``GET path`` until ``is_ready(status, body)``, or give up loudly with the log."""
    deadline = time.monotonic() + deadline_s
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(
                f"{name}: gunicorn exited with {process.returncode}\n" + log_tail(log_path)
            )
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if is_ready(response.status, body):
                return
            last_problem = f"HTTP {response.status}: {body[:200]!r}"
        except OSError as exc:
            last_problem = repr(exc)
        finally:
            conn.close()
        time.sleep(0.05)  # polling interval, not a wait for readiness
    raise BenchmarkError(
        f"{name} not ready after {deadline_s:.0f}s ({last_problem})\n" + log_tail(log_path)
    )


def start_gunicorn(
    make_command: Callable[[int], list[str]], cwd: Path, env: dict[str, str], log_path: Path
) -> tuple[int, subprocess.Popen[bytes]]:
    """Bind a free loopback port here and hand the socket to gunicorn (``--bind fd://N``),
    so there is no race for the port. Returns the port and the process."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        listener.listen(1024)
        port = listener.getsockname()[1]
        fd = listener.fileno()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                make_command(fd),
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
            )
    finally:
        listener.close()  # gunicorn holds its own copy now
    return port, process


def migrate(env: dict[str, str], project_root: Path, bin_dir: Path) -> None:
    """The app reads its schema from Alembic, as in production; do the same here."""
    result = subprocess.run(
        [str(bin_dir / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"flask db upgrade failed:\n{result.stdout}{result.stderr}")


def no_control_socket() -> list[str]:
    """Since 25.1 gunicorn opens a control socket in $HOME by default; several servers at
    once collide there, so the benchmarks turn it off."""
    if tuple(int(part) for part in version("gunicorn").split(".")[:2]) >= (25, 1):
        return ["--no-control-socket"]
    return []
