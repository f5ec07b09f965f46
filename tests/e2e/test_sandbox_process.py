"""`chorus sandbox` as a real process: it starts, answers over HTTP, and stops on Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from botapi_emulator.client import SandboxClient

ROOT = Path(__file__).resolve().parents[2]
AMIRA = 100_002


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _read_until(stream: asyncio.StreamReader, pattern: str) -> str:
    seen = ""
    while not re.search(pattern, seen):
        line = await stream.readline()
        if not line:
            raise AssertionError(f"the sandbox exited early:\n{seen}")
        seen += line.decode()
    return seen


# A fresh interpreter importing both frameworks can take a minute or more on a busy machine:
# the waits below are generous (a passing run never waits them out).
STARTUP = 150.0
UNISOLATED = str.maketrans("", "", "\u2068\u2069")


@pytest.mark.timeout(STARTUP + 150)
async def test_the_sandbox_runs_as_a_process(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE"))},
        "PYTHONPATH": str(ROOT),
        "SANDBOX_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sandbox.sqlite3'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(STARTUP):
            banner = await _read_until(process.stdout, r"/control/")
        assert f"http://127.0.0.1:{port}" in banner
        async with SandboxClient(f"http://127.0.0.1:{port}") as client:
            await client.post("/control/messages", user_id=AMIRA, text="/start")
            view = await client.chat(AMIRA)
            for _ in range(50):
                if any("أهلاً" in (m.get("text") or "") for m in view["messages"][1:]):
                    break
                view = await client.chat(AMIRA, after_version=view["version"], wait=2)
            # Names are isolated (FSI … PDI) inside sentences: compare without the marks.
            texts = [(m.get("text") or "").translate(UNISOLATED) for m in view["messages"]]
            # Amira is registered from the first start: she is welcomed back, in Arabic.
            assert any("أهلاً بعودتك يا أميرة" in text for text in texts), texts
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert (tmp_path / "sandbox.sqlite3").exists()
        assert (tmp_path / "sandbox.world.json").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
