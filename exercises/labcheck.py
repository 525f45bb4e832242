# Lab checks.  Run this cell first.  (Generated from exercises/labcheck.py.)
# A check cell prints "✓ <what was checked>" for each check that passed, or
# stops with CheckFailed saying what was expected and what came back.
# Values are compared strictly: 1 is not 1.0, a list is not a tuple, and an
# object that claims to equal everything equals nothing here.
import dataclasses
import signal
import threading


class CheckFailed(AssertionError):
    """A check found something other than what the lab asks for."""


class _OutOfTime(BaseException):
    """A check ran out of its time (a BaseException, so ``except Exception`` does not swallow it)."""


STUB = "not implemented yet"  # the text every exercise stub raises
SECONDS = 30  # how long one check may take before it fails (a blocked recv, a lost reply...)
_PLAIN = (str, bytes, int, float, complex, bool, type(None))


def _show(value, limit=500):
    """repr(value), short, and never an exception (learner objects may have odd reprs)."""
    try:
        text = repr(value)
    except Exception as e:
        text = f"<{type(value).__name__} whose repr raised {type(e).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same(actual, expected) -> bool:
    """``actual == expected``, with the same types all the way down (bool is not int, list is not tuple)."""
    kind = type(expected)
    if type(actual) is not kind:
        return False
    if kind in _PLAIN:
        return expected == actual
    if kind in (list, tuple):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    if kind is dict:
        keys = list(actual)
        return len(keys) == len(expected) and all(
            any(same(k, key) for k in keys) and same(actual[key], value) for key, value in expected.items())
    if kind in (set, frozenset):
        return len(actual) == len(expected) and all(any(same(a, e) for a in actual) for e in expected)
    if dataclasses.is_dataclass(expected):
        return all(same(getattr(actual, f.name), getattr(expected, f.name)) for f in dataclasses.fields(expected))
    return expected == actual and actual == expected


class check:
    """``with check("title"):`` runs one check; any surprise becomes a CheckFailed naming the check.

    A check that takes longer than ``seconds`` (a read that never returns, a
    lost reply) fails and says where your code was waiting.
    """

    def __init__(self, title, seconds=SECONDS):
        self.title, self.seconds, self._old = title, seconds, None

    def __enter__(self):
        if hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGALRM, self._ran_out)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    @staticmethod
    def _ran_out(signum, frame):
        where = f"in {frame.f_code.co_name}, line {frame.f_lineno}" if frame is not None else "somewhere"
        raise _OutOfTime(where)

    def __exit__(self, kind, error, traceback):
        if self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
        if error is None:
            print(f"✓ {self.title}")
            return False
        if isinstance(error, _OutOfTime):
            raise CheckFailed(f"✗ {self.title}: no result after {self.seconds:g} s "
                              f"(your code was still waiting {error.args[0]})") from None
        if isinstance(error, (CheckFailed, NotImplementedError)) or not isinstance(error, Exception):
            return False
        why = f"{type(error).__name__}: {error}"
        if STUB in str(error):
            why += "\n    (a part you still have to write ran -- maybe on the server)"
        raise CheckFailed(f"✗ {self.title}: your code raised {why}") from None


def expect(actual, expected, what):
    """``actual`` must be ``expected`` (same value, same types), or say both."""
    if not same(actual, expected):
        kinds = ""
        if type(actual) is not type(expected):
            kinds = f"\n    (expected a {type(expected).__name__}, got a {type(actual).__name__})"
        raise CheckFailed(f"✗ {what}:\n    expected {_show(expected)}\n    got      {_show(actual)}{kinds}")


def expect_true(condition, what, got=""):
    """A condition (a real bool) that must hold; ``got`` says what was seen instead."""
    if condition is not True:
        raise CheckFailed(f"✗ {what}" + (f":\n    got {got}" if got else ""))


def expect_error(errors, function, *args, what, text=None, **kwargs):
    """``function(*args)`` must raise one of ``errors`` (with exactly ``text``); returns the exception."""
    names = " or ".join(e.__name__ for e in (errors if isinstance(errors, tuple) else (errors,)))
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise
    except errors as e:
        if text is not None and not same(str(e), text):
            raise CheckFailed(f"✗ {what}:\n    expected {names} with text {text!r}\n"
                              f"    got      {type(e).__name__} with text {_show(str(e))}") from None
        return e
    except Exception as e:
        why = f"{type(e).__name__}: {e}" + ("  (a part you still have to write ran)" if STUB in str(e) else "")
        raise CheckFailed(f"✗ {what}:\n    expected {names}\n    but your code raised {why}") from None
    raise CheckFailed(f"✗ {what}:\n    expected {names} to be raised\n    got      the return value {_show(result)}")
