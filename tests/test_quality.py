"""Static checks the project promises: ruff and mypy clean, Dockerfile essentials."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "bot", "tests", "scripts", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials() -> None:
    text = (ROOT / "Dockerfile").read_text("utf-8")
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert lines[0].startswith("FROM python:3.") and "slim" in lines[0]
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert any(line.startswith("VOLUME") for line in lines)
    assert any(line.startswith("HEALTHCHECK") and "ngo-bot health" in line for line in lines)
    assert lines[-1].replace(" ", "") in ('CMD["ngo-bot","run"]',)
    assert "BOT_DB=" in text and "pip install" in text
