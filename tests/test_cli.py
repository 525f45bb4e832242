"""``python -m minirpc serve`` and ``call``, run as real subprocesses.

The command line is for people trying things out, so besides doing its job it
promises: it never hangs (``call`` has a deadline for the whole command, 10 s
by default), and a mistake gets exactly one line on stderr -- no traceback --
saying what went wrong and, where the cause is knowable, what to try; exit
status 1 when the work failed, 2 when the command line is wrong.  Every test
below runs the CLI with a subprocess timeout, so a hang fails the test instead
of stalling the suite; none asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
for name in ("PYTHONWARNINGS", "MINIRPC_TOKEN", "MINIRPC_DEBUG"):
    ENV.pop(name, None)
ARGS = '{"A": 7, "B": 8}'


def minirpc(*args: str, timeout: float = 30, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minirpc", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or ENV, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess, status: int, *fragments: str) -> str:
    """Assert the run failed with ``status`` and exactly one line on stderr,
    no traceback, containing every fragment; return that line."""
    assert result.returncode == status, (result.returncode, result.stderr)
    assert result.stdout == "", result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


@contextmanager
def serve(*args: str, classes=("minirpc.examples:Arith",), stop=signal.SIGTERM, env: dict | None = None):
    """Start ``serve`` on port 0, yield its address, stop it with ``stop``;
    it must then exit with status 0.  The process never outlives the test."""
    process = subprocess.Popen([sys.executable, "-m", "minirpc", "serve", *classes, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or ENV, cwd=ROOT)
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


@contextmanager
def silent_server():
    """A TCP server that accepts connections and never says a word.  Yields
    (address, an Event set once it accepted a connection); stops by itself."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted, stop, held = threading.Event(), threading.Event(), []

    def accept_forever():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
                accepted.set()
            except (socket.timeout, OSError):
                pass

    thread = threading.Thread(target=accept_forever, name="test-silent-server")
    thread.start()
    try:
        yield "127.0.0.1:%d" % listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        listener.close()
        for conn in held:
            conn.close()


@contextmanager
def web_server():
    """An ordinary HTTP server (no RPC): CONNECT gets 501, like most web servers."""
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a probe that never finishes its request line is dropped

        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="test-web-server")
    thread.start()
    try:
        yield "127.0.0.1:%d" % httpd.server_address[1]
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.fixture(scope="module")
def tcp_address():
    with serve() as address:
        yield address


@pytest.fixture(scope="module")
def json_address():
    with serve("--codec", "json") as address:
        yield address


@pytest.fixture(scope="module")
def http_address():
    with serve("--http") as address:
        yield address


@pytest.fixture(scope="module")
def token_address():
    with serve("--http", "--token", "s3cret") as address:
        yield address


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a certificate for 127.0.0.1 with its key, and a stranger CA, as PEM files."""
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "other.pem"))
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(folder / "other.key"))
    return folder


@pytest.fixture(scope="module")
def tls_address(pki):
    with serve("--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key")) as address:
        yield address


@pytest.fixture(scope="module")
def https_address(pki):
    with serve("--http", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key")) as address:
        yield address


@pytest.fixture
def services(tmp_path):
    """A folder with a module of services, and an ENV that imports from it."""
    (tmp_path / "services.py").write_text(
        "import time\n"
        "class Slow:\n"
        "    def Sleep(self, seconds: float) -> float:\n"
        "        time.sleep(seconds)\n"
        "        return seconds\n"
        "class NoMethods:\n"
        "    def Lower(self, x):\n"
        "        return x\n"
        "class NeedsArgs:\n"
        "    def __init__(self, name):\n"
        "        self.name = name\n"
        "    def Hello(self, n: int) -> int:\n"
        "        return n\n"
        "class Boom:\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('no database')\n"
        "answer = 42\n")
    (tmp_path / "broken.py").write_text("import no_such_dependency\n")
    return dict(ENV, PYTHONPATH=str(tmp_path) + os.pathsep + ENV["PYTHONPATH"])


# -- what works ---------------------------------------------------------------


def test_serve_prints_listen_host_port_first(tcp_address):
    host, port = tcp_address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0


def test_call_prints_the_reply_as_json(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", ARGS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "56\n", "")


def test_call_prints_a_struct_reply_as_an_object(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Divide", '{"A": 17, "B": 5}')
    assert json.loads(result.stdout) == {"Quo": 3, "Rem": 2}


def test_call_with_an_explicit_arg_type(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", '{"A": 2, "B": 3}', "--arg-type", "minirpc.examples:Args")
    assert result.stdout == "6\n"


def test_a_field_left_out_is_zero_as_in_go(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", '{"A": 7}')
    assert result.stdout == "0\n"


def test_an_address_without_a_host_means_this_machine_as_in_go(tcp_address):
    result = minirpc("call", ":" + tcp_address.rsplit(":", 1)[1], "Arith.Multiply", ARGS)
    assert result.stdout == "56\n", result.stderr


def test_json_codec_on_both_sides(json_address):
    result = minirpc("call", json_address, "Arith.Multiply", ARGS, "--codec", "json")
    assert result.stdout == "56\n"


def test_http_with_a_token(token_address):
    result = minirpc("call", token_address, "Arith.Multiply", ARGS, "--http", "--token", "s3cret")
    assert result.stdout == "56\n"


def test_token_from_the_environment_with_http(token_address):
    result = minirpc("call", token_address, "Arith.Multiply", '{"A": 2, "B": 2}', "--http",
                     env=dict(ENV, MINIRPC_TOKEN="s3cret"))
    assert result.stdout == "4\n", result.stderr


def test_sigint_stops_serve_cleanly():
    with serve(stop=signal.SIGINT) as address:
        assert minirpc("call", address, "Arith.Multiply", '{"A": 1, "B": 2}').stdout == "2\n"


@pytest.mark.parametrize("http", [[], ["--http"]], ids=["tcp", "http"])
def test_tls_with_certificate_files(pki, http):
    with serve("--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"), *http) as address:
        result = minirpc("call", address, "Arith.Multiply", ARGS, "--cafile", str(pki / "ca.pem"), *http)
    assert result.stdout == "56\n", result.stderr


def test_help_has_examples_a_student_can_follow():
    result = minirpc("--help")
    assert result.returncode == 0
    assert "python -m minirpc serve minirpc.examples:Arith" in result.stdout
    assert "python -m minirpc call" in result.stdout and "LISTEN" in result.stdout


def test_call_help_states_the_default_timeout_and_gos_zero_fields():
    result = minirpc("call", "--help")
    assert "(default 10)" in result.stdout and "--timeout" in result.stdout
    assert '\'{"A": 7}\' calls Arith.Multiply' in result.stdout and "B = 0, so it prints 0" in result.stdout


@pytest.mark.parametrize("a, b, quo, rem", [(17, 5, 3, 2), (-7, 2, -3, -1), (7, -2, -3, 1), (-7, -2, 3, -1)])
def test_example_divide_truncates_toward_zero_like_go(a, b, quo, rem):
    from minirpc.examples import Args, Arith, Quotient

    assert Arith().Divide(Args(a, b)) == Quotient(quo, rem)


# -- the server and the call disagree: never a hang, always the option to change --
# (none of these passes --timeout: the default deadline, and the probes, bound them)


def test_http_against_a_plain_server_says_drop_http(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--http"), 1,
                   "the server is a plain RPC server, not an HTTP one: drop --http")


def test_json_against_a_gob_server_says_try_codec_gob(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--codec", "json"), 1,
                   "the server speaks gob: try --codec gob")


def test_gob_against_a_json_server_says_try_codec_json(json_address):
    one_line_error(minirpc("call", json_address, "Arith.Multiply", ARGS), 1,
                   "the server speaks JSON-RPC: try --codec json")


def test_http_against_a_plain_json_server_says_drop_http(json_address):
    one_line_error(minirpc("call", json_address, "Arith.Multiply", ARGS, "--http", "--codec", "json"), 1,
                   "drop --http")


def test_plain_call_to_an_http_server_says_add_http(http_address):
    one_line_error(minirpc("call", http_address, "Arith.Multiply", ARGS), 1,
                   "the server answered like an HTTP server: add --http")


def test_plain_call_to_a_token_server_says_add_http_and_token(token_address):
    one_line_error(minirpc("call", token_address, "Arith.Multiply", ARGS), 1,
                   "an HTTP RPC server that wants a token", "add --http --token TOKEN")


def test_plain_call_to_a_tls_server_says_add_cafile(tls_address):
    one_line_error(minirpc("call", tls_address, "Arith.Multiply", ARGS), 1,
                   "the server speaks TLS: add --cafile")


def test_tls_call_to_a_plain_server_says_drop_cafile(tcp_address, pki):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--cafile", str(pki / "ca.pem")), 1,
                   "TLS handshake", "the server does not speak TLS: drop --cafile")


def test_http_call_to_an_https_server_says_add_cafile(https_address):
    one_line_error(minirpc("call", https_address, "Arith.Multiply", ARGS, "--http"), 1,
                   "the server speaks TLS: add --cafile")


def test_tls_call_to_an_https_server_says_add_http(https_address, pki):
    one_line_error(minirpc("call", https_address, "Arith.Multiply", ARGS, "--cafile", str(pki / "ca.pem")), 1,
                   "the server answered like an HTTP server: add --http")


def test_tls_http_call_to_a_tls_server_says_drop_http(tls_address, pki):
    one_line_error(minirpc("call", tls_address, "Arith.Multiply", ARGS, "--http", "--cafile", str(pki / "ca.pem")),
                   1, "drop --http")


def test_a_web_server_is_named_as_not_rpc():
    with web_server() as address:
        result = minirpc("call", address, "Arith.Multiply", ARGS, "--http")
    one_line_error(result, 1, "501", "not a Go or minirpc RPC server")


def test_a_server_that_never_answers_is_given_up_on_at_the_default_timeout():
    with silent_server() as (address, _):
        result = minirpc("call", address, "Arith.Multiply", ARGS, timeout=60)
    one_line_error(result, 1, "no reply within 10 s", "answered none of the probes")


def test_a_server_that_never_answers_the_http_handshake_is_given_up_on():
    with silent_server() as (address, _):
        result = minirpc("call", address, "Arith.Multiply", ARGS, "--http", "--timeout", "1")
    one_line_error(result, 1, "within 1 s while connecting")


def test_a_server_that_never_answers_the_tls_handshake_is_given_up_on(pki):
    with silent_server() as (address, _):
        result = minirpc("call", address, "Arith.Multiply", ARGS, "--cafile", str(pki / "ca.pem"), "--timeout", "1")
    one_line_error(result, 1, "within 1 s while connecting")


def test_a_slow_method_says_try_a_longer_timeout(services):
    with serve(classes=["services:Slow"], env=services) as address:
        result = minirpc("call", address, "Slow.Sleep", "3.0", "--timeout", "1")
    one_line_error(result, 1, "no reply within 1 s", "Slow.Sleep itself took longer", "try a longer --timeout")


def test_ctrl_c_during_a_call_is_one_line_and_status_130():
    with silent_server() as (address, accepted):
        process = subprocess.Popen([sys.executable, "-m", "minirpc", "call", address, "Arith.Multiply", ARGS],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        try:
            assert accepted.wait(30)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert (process.returncode, stdout, stderr) == (130, "", "error: interrupted\n")


# -- addresses ------------------------------------------------------------------


@pytest.mark.parametrize("address, hint", [
    ("localhost", "has no port: write host:port, e.g. localhost:1234"),
    ("", "has no port"),
    ("127.0.0.1:", "has no port"),
    ("[::1]", "has no port: write [::1]:PORT"),
    ("::1:1234", "write an IPv6 address in brackets, e.g. [::1]:1234"),
    ("http://127.0.0.1:1234", "is a URL: write only host:port (127.0.0.1:1234); add --http"),
    ("127.0.0.1:1234/debug/rpc", "has a path: write only host:port (127.0.0.1:1234)"),
    ("127.0.0.1:99999", "port out of range (99999): ports go from 1 to 65535"),
    ("127.0.0.1:abc", "port that is not a number ('abc')"),
    ("127.0.0.1:0", "port 0, which means 'any free port'"),
], ids=["no-port", "empty", "empty-port", "ipv6-no-port", "ipv6-no-brackets", "url", "path", "port-range",
        "port-name", "port-0"])
def test_a_malformed_address_is_a_usage_error_showing_host_port(address, hint):
    one_line_error(minirpc("call", address, "Arith.Multiply", ARGS), 2, "argument ADDRESS", hint)


def test_a_host_that_does_not_resolve_is_named():
    one_line_error(minirpc("call", "no-such-host.invalid:1234", "Arith.Multiply", ARGS), 1,
                   "cannot find host 'no-such-host.invalid'", "use an IP address such as 127.0.0.1")


def test_a_closed_port_says_nothing_listens():
    with serve() as address:
        pass  # stopped: nothing listens there now
    one_line_error(minirpc("call", address, "Arith.Multiply", ARGS), 1,
                   f"nothing listens at {address} (connection refused)", "is the server running?")


def test_an_ipv6_address_in_brackets_is_accepted(tcp_address):
    port = tcp_address.rsplit(":", 1)[1]  # the server listens on 127.0.0.1 only, so nothing answers on ::1
    result = minirpc("call", f"[::1]:{port}", "Arith.Multiply", ARGS)
    assert result.returncode == 1 and "argument ADDRESS" not in result.stderr, result.stderr


def test_serve_refuses_a_malformed_address():
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--address", "localhost"), 2,
                   "argument --address", "host:port")


# -- time limits -------------------------------------------------------------------


@pytest.mark.parametrize("seconds", ["-1", "0", "0.000001", "nan", "inf", "1e9", "soon"])
def test_a_timeout_out_of_range_is_refused_with_its_range(tcp_address, seconds):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--timeout", seconds), 2,
                   "argument --timeout", "from 0.01 to 86400")


# -- tokens ----------------------------------------------------------------------


def test_minirpc_token_does_not_break_a_plain_call(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Multiply", ARGS, env=dict(ENV, MINIRPC_TOKEN="s3cret"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "56\n", "")


def test_minirpc_token_does_not_break_a_plain_serve():
    with serve(env=dict(ENV, MINIRPC_TOKEN="s3cret")) as address:
        assert minirpc("call", address, "Arith.Multiply", ARGS).stdout == "56\n"


def test_an_explicit_token_without_http_is_a_usage_error():
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--token", "x"), 2, "--token needs --http")


def test_an_explicit_token_without_http_is_a_usage_error_for_call_too(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--token", "x"), 2, "--token needs --http")


def test_an_empty_token_is_refused():
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--http", "--token", ""), 2, "--token is empty")


def test_a_token_that_cannot_go_in_a_header_is_refused(token_address):
    one_line_error(minirpc("call", token_address, "Arith.Multiply", ARGS, "--http", "--token", "a\nb"), 2,
                   "printable ASCII")


def test_a_wrong_token_is_named_as_refused(token_address):
    one_line_error(minirpc("call", token_address, "Arith.Multiply", ARGS, "--http", "--token", "guess"), 1,
                   "the server refused the token from --token (401 Unauthorized)")


def test_a_wrong_token_from_the_environment_says_where_it_came_from(token_address):
    one_line_error(minirpc("call", token_address, "Arith.Multiply", ARGS, "--http",
                           env=dict(ENV, MINIRPC_TOKEN="guess")), 1, "the token from $MINIRPC_TOKEN")


def test_a_missing_token_is_asked_for(token_address):
    one_line_error(minirpc("call", token_address, "Arith.Multiply", ARGS, "--http"), 1,
                   "the server wants a token (401 Unauthorized): pass --token TOKEN, or set $MINIRPC_TOKEN")


# -- TLS files and certificates ---------------------------------------------------------


def test_a_certificate_from_another_ca_is_not_trusted(tls_address, pki):
    one_line_error(minirpc("call", tls_address, "Arith.Multiply", ARGS, "--cafile", str(pki / "other.pem")), 1,
                   "certificate verify failed", "give --cafile the CA certificate that signed it")


def test_a_certificate_for_another_name_says_so(tls_address, pki):
    port = tls_address.rsplit(":", 1)[1]
    one_line_error(minirpc("call", f"localhost:{port}", "Arith.Multiply", ARGS, "--cafile", str(pki / "ca.pem")), 1,
                   "the server's certificate is not for 'localhost'")


def test_a_missing_cafile_is_named(tcp_address, tmp_path):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--cafile", str(tmp_path / "ca.pem")), 1,
                   f"cannot read --cafile {tmp_path / 'ca.pem'}: No such file or directory")


def test_a_cafile_that_is_not_pem_is_named(tcp_address, tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--cafile", str(tmp_path / "ca.pem")), 1,
                   "holds no PEM certificate")


def test_a_missing_certfile_is_named(pki, tmp_path):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--certfile", str(tmp_path / "nope.pem"),
                           "--keyfile", str(pki / "server.key")), 1,
                   f"cannot read --certfile {tmp_path / 'nope.pem'}: No such file or directory")


def test_a_missing_keyfile_is_named(pki, tmp_path):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--certfile", str(pki / "server.pem"),
                           "--keyfile", str(tmp_path / "nope.key")), 1, "cannot read --keyfile")


def test_a_certfile_without_its_key_asks_for_keyfile(pki):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--certfile", str(pki / "server.pem")), 1,
                   "holds no private key: add --keyfile")


def test_a_key_of_another_certificate_is_named(pki):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--certfile", str(pki / "server.pem"),
                           "--keyfile", str(pki / "other.key")), 1, "is not the key of the certificate")


def test_an_encrypted_key_is_refused_instead_of_prompting(pki, tmp_path):
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = serialization.load_pem_private_key((pki / "server.key").read_bytes(), None)
    (tmp_path / "locked.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")))
    result = subprocess.run([sys.executable, "-m", "minirpc", "serve", "minirpc.examples:Arith", "--certfile",
                             str(pki / "server.pem"), "--keyfile", str(tmp_path / "locked.key")],
                            capture_output=True, text=True, timeout=30, env=ENV, cwd=ROOT, stdin=subprocess.DEVNULL)
    one_line_error(result, 1, "--keyfile is encrypted")


def test_a_keyfile_without_certfile_is_a_usage_error(pki):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--keyfile", str(pki / "server.key")), 2,
                   "--keyfile needs --certfile")


# -- JSON-ARGS and methods ------------------------------------------------------------------


def test_server_error_goes_to_stderr_with_exit_status_1(tcp_address):
    result = minirpc("call", tcp_address, "Arith.Divide", '{"A": 1, "B": 0}')
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: divide by zero\n")


def test_unknown_method_is_an_error_with_a_hint(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Nope", "{}"), 1,
                   "rpc: can't find method Arith.Nope", "case-sensitive")


def test_unknown_service_over_http_points_at_the_debug_page(http_address):
    one_line_error(minirpc("call", http_address, "arith.Multiply", "{}", "--http"), 1,
                   "rpc: can't find service arith.Multiply", f"http://{http_address}/debug/rpc")


def test_a_method_name_without_a_service_is_a_usage_error(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Multiply", ARGS), 2, "should look like Service.Method")


def test_bad_json_args_are_a_usage_error_with_an_example(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", "{A: 7}"), 2,
                   "JSON-ARGS '{A: 7}' is not JSON", "single quotes")


def test_json_args_split_by_the_shell_are_explained(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", "{A:", "7,", "B:", "8}"), 2,
                   "JSON-ARGS arrived as 4 words", "put it in single quotes")


def test_json_args_of_the_wrong_shape_say_a_struct_is_wanted(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", "7"), 1,
                   "want struct type Args", "give JSON-ARGS as an object of its fields")


def test_json_args_with_no_matching_field_say_names_are_case_sensitive(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", '{"a": 7, "b": 8}'), 1,
                   "no fields matched", "case-sensitive")


def test_json_null_with_gob_says_gob_has_no_null(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", "null"), 1,
                   "cannot send JSON-ARGS", "gob has no null")


def test_a_field_the_arg_type_does_not_have_is_a_usage_error(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", '{"A": 7, "C": 8}', "--arg-type",
                           "minirpc.examples:Args"), 2, "JSON-ARGS has 'C', which Args does not have (its fields: A, B")


def test_an_arg_type_that_does_not_exist_lists_what_does(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--arg-type", "minirpc.examples:Argz"), 1,
                   "module minirpc.examples has no type 'Argz'; it has Args, Arith, Quotient")


def test_an_unknown_option_is_one_line_with_a_guess(tcp_address):
    one_line_error(minirpc("call", tcp_address, "Arith.Multiply", ARGS, "--timout", "5"), 2,
                   "unrecognized arguments: --timout 5; did you mean --timeout?")


def test_a_missing_argument_is_one_line():
    one_line_error(minirpc("call", "127.0.0.1:1234"), 2, "the following arguments are required")


# -- serve: what it is asked to serve, and where ------------------------------------------


def test_bad_class_spec_is_explained():
    one_line_error(minirpc("serve", "minirpc.examples.Arith"), 2, "MODULE:Class")


def test_a_class_that_does_not_exist_lists_what_does():
    one_line_error(minirpc("serve", "minirpc.examples:Missing"), 1,
                   "module minirpc.examples has no class 'Missing'; it has Args, Arith, Quotient")


def test_a_module_that_does_not_exist_says_where_python_looks():
    one_line_error(minirpc("serve", "no_such_module:Arith"), 1, "no module named 'no_such_module'", "PYTHONPATH")


def test_a_module_whose_import_fails_says_where(services):
    one_line_error(minirpc("serve", "broken:Anything", env=services), 1,
                   "importing broken failed at", "broken.py:1", "No module named 'no_such_dependency'")


def test_a_class_with_no_suitable_methods_says_why(services):
    one_line_error(minirpc("serve", "services:NoMethods", env=services), 1,
                   "no exported methods of suitable type", "NoMethods.Lower: argument 'x' has no type annotation",
                   "def Multiply(self, args: Args) -> int")


def test_a_class_whose_constructor_needs_arguments_says_so(services):
    one_line_error(minirpc("serve", "services:NeedsArgs", env=services), 1,
                   "services:NeedsArgs() needs arguments", "'name'")


def test_a_constructor_that_raises_says_where(services):
    one_line_error(minirpc("serve", "services:Boom", env=services), 1,
                   "creating services:Boom() failed at", "services.py:16", "RuntimeError: no database")


def test_something_that_is_not_a_class_is_refused(services):
    one_line_error(minirpc("serve", "services:answer", env=services), 1, "services:answer is an int, not a class")


def test_the_same_class_twice_is_refused():
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "minirpc.examples:Arith"), 1,
                   "rpc: service already defined: Arith")


@pytest.mark.parametrize("http", [[], ["--http"]], ids=["tcp", "http"])
def test_a_port_in_use_says_so(tcp_address, http):
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--address", tcp_address, *http), 1,
                   f"cannot listen on {tcp_address}: the port is in use", "port 0 for any free one")


def test_an_address_of_another_machine_says_so():
    one_line_error(minirpc("serve", "minirpc.examples:Arith", "--address", "192.0.2.1:0"), 1,
                   "192.0.2.1 is not an address of this machine")


# -- the traceback is one flag away ------------------------------------------------------------


def test_debug_adds_the_traceback(services):
    result = minirpc("serve", "services:Boom", "--debug", env=services)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: no database" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: creating services:Boom() failed")


def test_minirpc_debug_in_the_environment_adds_the_traceback(services):
    result = minirpc("serve", "services:Boom", env=dict(services, MINIRPC_DEBUG="1"))
    assert result.returncode == 1 and "Traceback" in result.stderr
