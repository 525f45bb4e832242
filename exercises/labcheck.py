# Lab checks.  Run this cell first.  (Generated from exercises/labcheck.py.)
# A check cell prints "✓ <what was checked>" for each check that passed, or
# stops with CheckFailed saying what was expected and what came back.
import contextlib


class CheckFailed(AssertionError):
    """A check found something other than what the lab asks for."""


STUB = "not implemented yet"  # the text every exercise stub raises


@contextlib.contextmanager
def check(title):
    """Run one check; any surprise becomes a CheckFailed naming the check."""
    try:
        yield
    except (CheckFailed, NotImplementedError):
        raise
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        if STUB in str(e):
            why += "\n    (a part you still have to write ran -- maybe on the server)"
        raise CheckFailed(f"✗ {title}: your code raised {why}") from None
    print(f"✓ {title}")


def expect(actual, expected, what):
    """``actual == expected``, or say both."""
    if actual != expected:
        raise CheckFailed(f"✗ {what}:\n    expected {expected!r}\n    got      {actual!r}")


def expect_true(condition, what, got=""):
    """A condition that must hold; ``got`` says what was seen instead."""
    if not condition:
        raise CheckFailed(f"✗ {what}" + (f":\n    got {got}" if got else ""))


def expect_error(errors, function, *args, what, text=None, **kwargs):
    """``function(*args)`` must raise one of ``errors`` (with exactly ``text``)."""
    names = " or ".join(e.__name__ for e in (errors if isinstance(errors, tuple) else (errors,)))
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise
    except errors as e:
        if text is not None and str(e) != text:
            raise CheckFailed(f"✗ {what}:\n    expected {names} with text {text!r}\n    got      {type(e).__name__} with text {str(e)!r}")
        return e
    except Exception as e:
        why = f"{type(e).__name__}: {e}" + ("  (a part you still have to write ran)" if STUB in str(e) else "")
        raise CheckFailed(f"✗ {what}:\n    expected {names}\n    but your code raised {why}") from None
    raise CheckFailed(f"✗ {what}:\n    expected {names} to be raised\n    got      the return value {result!r}")
