"""Helpers of the operations tests: free ports, `gis-service` subprocesses in their own process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx

from tests.conftest import ROOT

CLI = [sys.executable, "-m", "gis_service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_group(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """Stop ``process`` and every child it started (uvicorn workers): SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


@contextmanager
def cli_server(env: dict[str, str], *args: str, startup_s: float = 90) -> Iterator[str]:
    """``gis-service serve --port <free> *args`` with ``env`` added; yields its base URL once /health answers."""
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), *args], env={**os.environ, **env}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("gis-service serve exited: "
                                   + (process.stderr.read().decode(errors="replace") if process.stderr else ""))
            if time.monotonic() > deadline:
                raise RuntimeError("gis-service serve did not start")
            time.sleep(0.2)
        yield url
    finally:
        kill_group(process)
