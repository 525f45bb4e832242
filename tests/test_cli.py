"""``python -m minirpc serve`` and ``call``, run as real subprocesses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
ENV.pop("PYTHONWARNINGS", None)
ENV.pop("MINIRPC_TOKEN", None)


def minirpc(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minirpc", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=ROOT)


@contextmanager
def serve(*args: str, stop=signal.SIGTERM):
    """Start ``serve`` on port 0, yield its address, stop it with ``stop``;
    it must then exit with status 0.  The process never outlives the test."""
    process = subprocess.Popen([sys.executable, "-m", "minirpc", "serve", "minirpc.examples:Arith", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("LISTEN "), f"first line was {line!r}; stderr: {process.stderr.read() if not ready else ''}"
        yield line.split()[1]
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.fixture(scope="module")
def tcp_address():
    with serve() as address:
        yield address


def test_serve_prints_listen_host_port_first(tcp_address):
    host, port = tcp_address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0


def test_call_prints_the_reply_as_json(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", '{"A": 7, "B": 8}')
    assert (result.returncode, result.stdout, result.stderr) == (0, "56\n", "")


def test_call_prints_a_struct_reply_as_an_object(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Divide", '{"A": 17, "B": 5}')
    assert json.loads(result.stdout) == {"Quo": 3, "Rem": 2}


def test_call_with_an_explicit_arg_type(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", '{"A": 2, "B": 3}', "--arg-type", "minirpc.examples:Args")
    assert result.stdout == "6\n"


def test_server_error_goes_to_stderr_with_exit_status_1(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Divide", '{"A": 1, "B": 0}')
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: divide by zero\n")


def test_unknown_method_is_an_error(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Nope", "{}")
    assert result.returncode == 1 and "rpc: can't find method Arith.Nope" in result.stderr


def test_bad_json_args_are_a_usage_error(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", "{A: 7}")
    assert result.returncode == 2 and result.stderr.startswith("error: JSON-ARGS:")


def test_call_to_a_closed_port_fails_with_status_1():
    with serve() as address:
        pass  # stopped: nothing listens there now
    result = minirpc("call", address, "Arith.Multiply", '{"A": 1, "B": 1}', "--timeout", "5")
    assert result.returncode == 1 and result.stderr.startswith("error: ")


def test_json_codec_on_both_sides():
    with serve("--codec", "json") as address:
        result = minirpc("call", address, "Arith.Multiply", '{"A": 7, "B": 8}', "--codec", "json")
    assert result.stdout == "56\n"


def test_http_with_a_token():
    with serve("--http", "--token", "s3cret") as address:
        good = minirpc("call", address, "Arith.Multiply", '{"A": 7, "B": 8}', "--http", "--token", "s3cret")
        bad = minirpc("call", address, "Arith.Multiply", '{"A": 7, "B": 8}', "--http", "--token", "guess")
    assert good.stdout == "56\n"
    assert bad.returncode == 1 and bad.stderr.endswith("unexpected HTTP response: 401 Unauthorized\n")


def test_sigint_stops_serve_cleanly():
    with serve(stop=signal.SIGINT) as address:
        assert minirpc("call", address, "Arith.Multiply", '{"A": 1, "B": 2}').stdout == "2\n"


def test_token_without_http_is_refused():
    result = minirpc("serve", "minirpc.examples:Arith", "--token", "x")
    assert result.returncode == 2 and "--token needs --http" in result.stderr


def test_bad_class_spec_is_explained():
    result = minirpc("serve", "minirpc.examples.Arith")
    assert result.returncode != 0 and "MODULE:Name" in result.stderr


def test_help_has_examples_a_student_can_follow():
    result = minirpc("--help")
    assert result.returncode == 0
    assert "python -m minirpc serve minirpc.examples:Arith" in result.stdout
    assert "python -m minirpc call" in result.stdout and "LISTEN" in result.stdout


def test_token_from_the_environment():
    with serve("--http", "--token", "s3cret") as address:
        env = dict(ENV, MINIRPC_TOKEN="s3cret")
        result = subprocess.run([sys.executable, "-m", "minirpc", "call", address, "Arith.Multiply", '{"A": 2, "B": 2}',
                                 "--http"], capture_output=True, text=True, timeout=30, env=env, cwd=ROOT)
    assert result.stdout == "4\n", result.stderr


@pytest.mark.parametrize("http", [[], ["--http"]], ids=["tcp", "http"])
def test_tls_with_certificate_files(tmp_path, http):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with serve("--certfile", str(tmp_path / "server.pem"), "--keyfile", str(tmp_path / "server.key"), *http) as address:
        trusted = minirpc("call", address, "Arith.Multiply", '{"A": 7, "B": 8}', "--cafile", str(tmp_path / "ca.pem"), *http)
        trustme.CA().cert_pem.write_to_path(str(tmp_path / "other.pem"))
        stranger = minirpc("call", address, "Arith.Multiply", '{"A": 7, "B": 8}', "--cafile", str(tmp_path / "other.pem"),
                           "--timeout", "10", *http)
    assert trusted.stdout == "56\n", trusted.stderr
    assert stranger.returncode == 1 and "certificate verify failed" in stranger.stderr


@pytest.mark.parametrize("a, b, quo, rem", [(17, 5, 3, 2), (-7, 2, -3, -1), (7, -2, -3, 1), (-7, -2, 3, -1)])
def test_example_divide_truncates_toward_zero_like_go(a, b, quo, rem):
    from minirpc.examples import Args, Arith, Quotient

    assert Arith().Divide(Args(a, b)) == Quotient(quo, rem)
