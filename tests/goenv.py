"""Finding Go for the interop tests.

Tests that need Go call ``require_go()``.  On a learner's machine without Go
they skip with a clear reason; CI sets ``MINIRPC_REQUIRE_GO=1`` and then a
missing Go is a failure, so the interop tests can never silently skip there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRED = os.environ.get("MINIRPC_REQUIRE_GO") == "1"


def require_go() -> str:
    """Return the path of ``go``, or skip (fail under MINIRPC_REQUIRE_GO=1)."""
    go = shutil.which("go")
    if go is None:
        reason = "Go is not installed (Debian: apt-get install golang-go); the Go interop tests need it"
        if REQUIRED:
            pytest.fail(f"MINIRPC_REQUIRE_GO=1 but {reason}")
        pytest.skip(reason)
    return go


_BUILT: dict[str, Path] = {}
_BUILD_DIR = Path(tempfile.mkdtemp(prefix="minirpc-go-"))


def go_build(source_dir: str | os.PathLike) -> Path:
    """Build the Go program in ``source_dir`` once per test session; return the binary."""
    go = require_go()
    key = str(Path(source_dir).resolve())
    if key not in _BUILT:
        out = _BUILD_DIR / (Path(key).name + str(len(_BUILT)))
        env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on", GOPROXY="off")
        env.setdefault("GOCACHE", str(_BUILD_DIR / "gocache"))
        env.setdefault("GOPATH", str(_BUILD_DIR / "gopath"))
        subprocess.run([go, "build", "-o", str(out), "."], cwd=key, env=env, check=True, capture_output=True, text=True)
        _BUILT[key] = out
    return _BUILT[key]


def stop_by_closing_stdin(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop one of our Go programs: they exit when their standard input closes (killed if not in time)."""
    process.stdin.close()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()
