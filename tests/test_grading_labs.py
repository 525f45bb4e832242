"""Labs 2 and 8 through exercises/grade.py: tricks earn nothing, wrong solutions fail the check of their skill.

tests/test_grading.py holds the grader's own guarantees (run on lab 1).  This
file holds what is particular to lab 2 (write a wire format) and lab 8 (build
the client's dispatcher): the tricks a learner of these two labs might try,
each of which must score 0, and the plausible wrong solutions, each of which
must pass exactly the checks of the parts it got right.  Every submission is
graded in one batch, two at a time.
"""

from __future__ import annotations


import nbformat
import pytest
from labscripts import EXERCISES, load

LAB2, LAB8 = "02-write-a-codec", "08-build-the-dispatcher"


grade = load("grade")
LABS = grade.load_labs(EXERCISES)


def _notebook(lab, which):
    return nbformat.read(EXERCISES / lab / f"{which}.ipynb", as_version=4)


def _cell(nb, gid):
    return next(c for c in nb.cells if grade.grade_id(c) == gid)


def _edit(lab, gid, *replacements, keep=(), may_pass=(), base="solution"):
    """The lab's solution (or student copy) with answer cell ``gid`` edited: (old, new) pairs, each old text
    present exactly once; ``keep`` names the checks that must still pass."""
    nb = _notebook(lab, base)
    cell = _cell(nb, gid)
    for old, new in replacements:
        assert cell.source.count(old) == 1, f"{lab}/{gid}: the text to replace is not there once: {old!r}"
        cell.source = cell.source.replace(old, new)
    nb.metadata["expected_passes"] = list(keep)
    nb.metadata["may_pass"] = list(may_pass)  # checks a race in the wrong code fails in some runs, not all
    return nb


def _replace(lab, gid, source, keep=(), base="solution"):
    nb = _notebook(lab, base)
    _cell(nb, gid).source = source
    nb.metadata["expected_passes"] = list(keep)
    return nb


def _prepend(lab, code):
    nb = _notebook(lab, "student")
    cell = next(c for c in nb.cells if grade.is_answer(c) and c.cell_type == "code")
    cell.source = code + "\n" + cell.source
    return nb


HELPERS_REDEFINED = (
    "import contextlib\n@contextlib.contextmanager\ndef check(title, *a, **k):\n    try:\n        yield\n"
    "    except BaseException:\n        pass\n"
    "def expect(*a, **k): pass\ndef expect_true(*a, **k): pass\ndef expect_error(*a, **k): pass\n")


def _fake_passes(lab):
    titles = [line.split('check("', 1)[1].split('"', 1)[0] for spec in LABS[lab].checks
              for line in spec.source.splitlines() if 'with check("' in line]
    return _prepend(lab, "print(" + repr("\n".join(f"✓ {t}" for t in titles)) + ")")


# -- lab 2: the frames format --------------------------------------------------------------------------------

_LIMIT = '''            if length > self.max_frame:
                raise ProtocolError(f"frames: a frame of {length} bytes is over the limit of {self.max_frame}")
'''
_WHOLE = "            if len(buffer) >= 4 + length:\n"

WHOLE_FRAMES_ONLY = '''
class FrameReader:
    """Takes every read to be exactly one frame."""

    def __init__(self, max_frame=DEFAULT_MAX_MESSAGE):
        self.max_frame, self._frames, self._closed = max_frame, [], False

    def receive_data(self, data):
        if not data:
            self._closed = True
        elif int.from_bytes(data[:4], "big") > self.max_frame:
            self._frames.append(ProtocolError("too big"))
        else:
            self._frames.append(bytes(data[4:4 + int.from_bytes(data[:4], "big")]))

    def next_frame(self):
        if self._frames:
            frame = self._frames.pop(0)
            if isinstance(frame, Exception):
                raise frame
            return frame
        if self._closed:
            raise EOFError()
        return NEED_DATA
'''

HARD_CODED = '''
class FrameFormat:
    """Reads and writes the task's example, whatever it is given."""

    reads = Request
    keys: dict = {}
    where = "args"

    def __init__(self, max_message=DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self.frames = FrameReader(max_message)
        self.receive_data = self.frames.receive_data

    def next_message(self):
        payload = self.frames.next_frame()
        if payload is NEED_DATA:
            return NEED_DATA
        if self.reads is Request:
            return Message(Request("Arith.Multiply", 7), {"A": 7, "B": 8}, raw_frame(payload))
        return Message(Response("Arith.Multiply", 7, ""), 56, raw_frame(payload))

    def decode_body(self, message, type):
        return from_plain(message.body, type, self.where)

    def encode(self, header, body, body_type=None):
        if isinstance(header, Response):
            return raw_frame(b'{"method":"Arith.Multiply","seq":7,"error":"","body":56}')
        return raw_frame(b'{"method":"Arith.Multiply","seq":7,"body":{"A":7,"B":8}}')


class FrameServerFormat(FrameFormat):
    reads, where = Request, "args"
    keys = {"method": str, "seq": int, "body": object}


class FrameClientFormat(FrameFormat):
    reads, where = Response, "reply"
    keys = {"method": str, "seq": int, "error": str, "body": object}
'''

JSONRPC_INSTEAD = '''
from minirpc import jsonrpc


def frames_format():
    return WireFormat("frames", jsonrpc.ServerFormat, jsonrpc.ClientFormat)


def serve_arith(fmt, max_message=DEFAULT_MAX_MESSAGE):
    server = minirpc.Server(max_message)
    server.register(Arith())
    return server, server.start("127.0.0.1:0", codec=fmt)
'''

# -- lab 8: the dispatcher -------------------------------------------------------------------------------------

WRAPS_MINIRPC = '''
class MiniClient:
    """minirpc's own client in disguise."""

    def __init__(self, sock, fmt):
        self.sock, self.fmt, self.pending = sock, fmt, Pending()
        stream = minirpc.stream.Stream(sock, fmt)
        self._client = minirpc.new_client_with_codec(minirpc.codec.StreamClientCodec(stream))

    def go(self, method, args=None, reply_type=None):
        return self._client.go(method, args, reply_type=reply_type)

    def call(self, method, args=None, reply_type=None):
        return self._client.call(method, args, reply_type=reply_type)

    def close(self):
        try:
            self._client.close()
        except minirpc.ShutdownError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
'''

UNLOCKED_ADD = '''        future = futures.Future()
        with self._lock:
            if self._broken:
                raise ShutdownError()
            seq, self._next = self._next, self._next + 1
            self._calls[seq] = (future, reply_type)
        return seq, future'''
UNLOCKED_ADD_WRONG = '''        if self._broken:
            raise ShutdownError()
        seq = self._next
        future = futures.Future()
        self._calls[seq] = (future, reply_type)
        self._next = seq + 1
        return seq, future'''
_TAKE = '''                    call = self.pending.take(header.seq)
                    if call is None:
                        continue  # a duplicate, or a reply to a call nobody made: dropped
                    future, reply_type = call
'''
_FAIL = '''            self.pending.fail_all(ConnectionLost(f"connection lost: {str(e) or 'the peer hung up'}"))'''
_SHUTDOWN = '''        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
        except OSError:
            pass  # closed already
'''

# A client that starts a thread per call (each waits for its call's Future): check_replies wants one reader thread.
_RETURN = "        return future\n        ### END SOLUTION"
_THREAD_PER_CALL = ('        threading.Thread(target=futures.wait, args=([future],), name=f"waiter-{seq}", daemon=True).start()\n'
                    + _RETURN)
# ... and the learner's own ``threading``, whose enumerate() hides those threads from the checks' new_threads().
_THREADS_HIDDEN = (
    "import threading as _threading\nimport types\n"
    "threading = types.SimpleNamespace(**{k: getattr(_threading, k) for k in dir(_threading) if not k.startswith('__')})\n"
    "threading.enumerate = lambda: [t for t in _threading.enumerate() if not t.name.startswith('waiter-')]\n\n")


def _threads_hidden():
    nb = _edit(LAB8, "client", (_RETURN, _THREAD_PER_CALL), keep=["check_pending", "check_broken"])
    _cell(nb, "client").source = _THREADS_HIDDEN + _cell(nb, "client").source
    return nb


def _own_peer():
    """The solution, and a learner's cell of their own (after the set-up) that defines a class named Peer; a last
    cell reads it again, after every check."""
    nb = _notebook(LAB8, "solution")
    nb.cells.insert(nb.cells.index(_cell(nb, "setup")) + 1, nbformat.v4.new_code_cell(
        'class Peer:\n    """my own Peer, to try things"""\n'))
    nb.cells.append(nbformat.v4.new_code_cell("print(Peer.__doc__)"))
    return nb


def _switch_interval_patched():
    """The unlocked table, and sys.setswitchinterval made to do nothing: the hidden check of eight threads at once
    switches threads as often as it can, to show a race."""
    nb = _edit(LAB8, "pending", (UNLOCKED_ADD, UNLOCKED_ADD_WRONG))
    del nb.metadata["expected_passes"]
    _cell(nb, "pending").source = "import sys\nsys.setswitchinterval = lambda interval: None\n\n" + _cell(nb, "pending").source
    return nb


SUBMISSIONS = {
    # (lab, notebook); a notebook with metadata.expected_passes is a wrong solution, graded check by check
    "lab2-solved": (LAB2, lambda: _notebook(LAB2, "solution")),
    "lab2-stub": (LAB2, lambda: _notebook(LAB2, "student")),
    "lab2-helpers_redefined": (LAB2, lambda: _prepend(LAB2, HELPERS_REDEFINED)),
    "lab2-fake_pass_lines": (LAB2, lambda: _fake_passes(LAB2)),
    "lab2-teacher_name_rebound": (LAB2, lambda: _prepend(LAB2, "NEED_DATA = None\nraw_frame = wire = unwire = lambda *a: None")),
    "lab2-errors_patched": (LAB2, lambda: _prepend(LAB2, "import minirpc.errors\nminirpc.errors.ProtocolError = Exception")),
    "lab2-jsonrpc_instead": (LAB2, lambda: _replace(LAB2, "wiring", JSONRPC_INSTEAD, base="student")),
    "lab2-whole_frames_only": (LAB2, lambda: _replace(LAB2, "frames", WHOLE_FRAMES_ONLY)),
    "lab2-no_limit": (LAB2, lambda: _edit(LAB2, "frames", (_LIMIT, ""), keep=["check_messages"])),
    "lab2-limit_when_whole": (LAB2, lambda: _edit(LAB2, "frames", (_LIMIT, ""), (_WHOLE, _WHOLE + _LIMIT.replace(
        "            ", "                ")), keep=["check_messages"])),
    "lab2-eof_always_bare": (LAB2, lambda: _edit(LAB2, "frames", (
        'raise TruncatedMessage(f"unexpected EOF: the stream ended {len(buffer)} bytes into a frame")', "raise EOFError()"),
        keep=["check_end_to_end"])),
    "lab2-untyped_bodies": (LAB2, lambda: _edit(LAB2, "messages", (
        "            return from_plain(message.body, type, self.where)", "            return message.body"),
        keep=["check_frames"])),
    "lab2-hard_coded_example": (LAB2, lambda: _replace(LAB2, "messages", HARD_CODED, keep=["check_frames"])),
    "lab2-counted_seqs": (LAB2, lambda: _edit(LAB2, "messages", (
        '        header = self.reads(*(fields[key] for key in self.keys if key != "body"))',
        '        self.count = getattr(self, "count", -1) + 1  # replies come in order, surely\n'
        '        values = [fields[key] for key in self.keys if key != "body"]\n'
        '        header = self.reads(values[0], self.count, *values[2:])'), keep=["check_frames"])),
    "lab8-solved": (LAB8, lambda: _notebook(LAB8, "solution")),
    "lab8-stub": (LAB8, lambda: _notebook(LAB8, "student")),
    "lab8-helpers_redefined": (LAB8, lambda: _prepend(LAB8, HELPERS_REDEFINED)),
    "lab8-fake_pass_lines": (LAB8, lambda: _fake_passes(LAB8)),
    "lab8-teacher_name_rebound": (LAB8, lambda: _prepend(LAB8, "outcome = lambda *a, **k: ('reply', 0)\nPeer = None")),
    "lab8-futures_patched": (LAB8, lambda: _prepend(LAB8, (
        "from concurrent import futures\nfutures.Future.exception = lambda self, timeout=None: None"))),
    "lab8-wraps_minirpc": (LAB8, lambda: _replace(LAB8, "client", WRAPS_MINIRPC, keep=["check_pending"])),
    "lab8-unlocked_table": (LAB8, lambda: _edit(LAB8, "pending", (UNLOCKED_ADD, UNLOCKED_ADD_WRONG),
                                                  keep=["check_broken"], may_pass=["check_replies"])),
    "lab8-replies_in_order": (LAB8, lambda: _edit(LAB8, "client", (
        "        self._sending = threading.Lock()", "        self._order = []  # seqs in the order sent\n        self._sending = threading.Lock()"), (
        "            seq, future = self.pending.add(reply_type)\n", "            seq, future = self.pending.add(reply_type)\n"
        "            self._order.append(seq)\n"), (
        "                    call = self.pending.take(header.seq)\n",
        "                    call = self.pending.take(self._order.pop(0)) if self._order else None  # the oldest first\n"),
        keep=["check_pending"])),
    "lab8-unknown_seq_breaks": (LAB8, lambda: _edit(LAB8, "client", (_TAKE, "                    future, reply_type = self.pending.take(header.seq)\n"),
                                                      keep=["check_pending", "check_broken"])),
    "lab8-no_fail_all": (LAB8, lambda: _edit(LAB8, "client", (_FAIL, "            pass  # the reader just stops"),
                                               keep=["check_pending", "check_replies"])),
    "lab8-close_without_shutdown": (LAB8, lambda: _edit(LAB8, "client", (_SHUTDOWN, ""), keep=["check_pending"])),
    "lab8-threads_hidden": (LAB8, _threads_hidden),
    "lab8-switch_interval_patched": (LAB8, _switch_interval_patched),
    "lab8-own_peer": (LAB8, _own_peer),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every submission above in one batch; {name: Result}."""
    root = tmp_path_factory.mktemp("submissions")
    for name, (_, make) in SUBMISSIONS.items():
        (root / name).mkdir()
        nbformat.write(make(), root / name / "lab.ipynb")
    results = grade.grade_all(grade.find_notebooks(root), LABS, root, jobs=2, cell_seconds=150, notebook_seconds=300)
    return {r.student: r for r in results}


def _summary(result):
    return [(c.grade_id, c.passed, c.why[:300]) for c in result.checks]


@pytest.mark.parametrize("lab", [LAB2, LAB8])
def test_the_solution_scores_full_marks_with_no_flags(graded, lab):
    result = graded[f"lab{lab[1]}-solved"]
    assert result.status == "ok" and result.points == LABS[lab].max_points, _summary(result)
    assert result.flags == []


@pytest.mark.parametrize("lab", [LAB2, LAB8])
def test_the_student_copy_scores_zero_for_its_stubs(graded, lab):
    result = graded[f"lab{lab[1]}-stub"]
    assert result.points == 0 and result.max_points == LABS[lab].max_points
    assert all(c.why.startswith("NotImplementedError") for c in result.checks), _summary(result)


HONEST = ["lab8-own_peer"]
TRICKS = [name for name, (lab, make) in SUBMISSIONS.items()
          if not name.endswith(("-solved", "-stub")) and name not in HONEST and "expected_passes" not in make().metadata]


@pytest.mark.parametrize("name", TRICKS)
def test_a_trick_earns_nothing(graded, name):
    result = graded[name]
    lab = SUBMISSIONS[name][0]
    assert result.points == 0 and result.max_points == LABS[lab].max_points, _summary(result)


WRONG = [name for name, (lab, make) in SUBMISSIONS.items() if "expected_passes" in make().metadata]


@pytest.mark.parametrize("name", WRONG)
def test_a_wrong_solution_fails_the_check_of_its_skill(graded, name):
    result = graded[name]
    metadata = nbformat.read(result.path, as_version=4).metadata
    either = set(metadata.get("may_pass", ()))  # (its own skill's check is never among them)
    passed = [c.grade_id for c in result.checks if c.passed and c.grade_id not in either]
    assert passed == metadata["expected_passes"], _summary(result)


def test_a_learners_own_name_for_a_set_up_name_does_not_reach_the_set_up_functions(graded):
    # connected() makes the checks' Peer: it finds Peer in the notebook's namespace, where the learner's class is.
    result = graded["lab8-own_peer"]
    assert result.status == "ok" and result.points == LABS[LAB8].max_points, _summary(result)
    last = result.graded.cells[-1]
    assert [o.get("text") for o in last.outputs] == ["my own Peer, to try things\n"], "after the checks, Peer is theirs again"


def test_patching_what_the_checks_rely_on_is_named(graded):
    assert any("minirpc.errors.ProtocolError" in c.why for c in graded["lab2-errors_patched"].checks), \
        _summary(graded["lab2-errors_patched"])
    assert any("Future.exception" in c.why for c in graded["lab8-futures_patched"].checks), \
        _summary(graded["lab8-futures_patched"])
    assert any("sys.setswitchinterval" in c.why for c in graded["lab8-switch_interval_patched"].checks), \
        _summary(graded["lab8-switch_interval_patched"])
