"""The grader's half inside a grading kernel.

``grade.py`` sends this file to every grading kernel, as a silent request
that runs before any cell of the notebook, then calls :func:`install`.  From
then on a check cell is not the cell's own code but one line::

    __import__("sys").modules["_minirpc_grading"].run("check_calls")

and :meth:`Runtime.run` does the work:

1. it compares a fingerprint of the modules the checks rely on (builtins,
   minirpc, the standard library modules the lab imports, the names the
   teacher's cells defined) with the one taken before any learner code ran,
   and refuses the check if anything was replaced;
2. it runs the teacher's check source in a namespace of its own: the
   notebook's names, overlaid with the teacher's names and a fresh copy of
   the check helpers, so redefining ``check`` or ``expect`` in an answer cell
   changes nothing;
3. while the check runs, the names the teacher's code reads (``reads``:
   what the functions of the set-up cells and the checks look up) are the
   teacher's in the notebook's namespace too, where the set-up functions find
   their globals: a learner's ``threading = ...`` or ``Peer = ...`` does not
   reach them, and a learner's global that hides a built-in (``sorted =
   ...``) is out of the way; the learner's bindings (or their absence) are
   put back afterwards;
4. it takes the fingerprint again (learner code ran during the check), and
   refuses the check if those names were rebound while it ran;
5. only then does it publish the check's *token*, a random value the grader
   made for this check and this run.  The grader counts a check as passed
   when the kernel's reply to the cell is ``ok`` **and** the token arrived.

A cell that never reaches step 5 (an exception, an exception hidden by a
custom handler, a rewritten cell, an exiting or dead kernel) earns nothing.
What this cannot stop is code written to attack this module itself: every
object in a Python process is reachable from any other code in it (``gc``,
frames, ``ctypes``).  The grader's static flags point a teacher at such code.
"""

import builtins
import sys
import types

MIME = "application/vnd.minirpc.check+json"

# Module prefixes whose functions and classes the checks rely on.
WATCHED = ("builtins", "sys", "minirpc", "socket", "_socket", "io", "_io", "json", "struct", "threading", "time",
           "math", "concurrent.futures", "contextlib", "dataclasses", "functools", "random", "select",
           "selectors", "queue", "collections", "operator", "copy", "signal", "types", "re", "subprocess",
           "shutil", "os", "posixpath", "tempfile", "matplotlib.figure", "matplotlib.axes", "matplotlib.lines",
           "matplotlib.axis", "matplotlib.legend", "matplotlib.text", "matplotlib.artist", "matplotlib.scale",
           "matplotlib.pyplot", "asyncio")
_ROUTINE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.WrapperDescriptorType,
            types.MethodDescriptorType, types.ClassMethodDescriptorType, types.GetSetDescriptorType,
            types.MemberDescriptorType, classmethod, staticmethod, property, type)
# Set anew by IPython or ipykernel for every request: the last results, and input() wired to the frontend;
# and the class of the last exception IPython showed (sys.last_type: a class, so it would look like a routine).
# (sys.excepthook, set to the shell's own method for every request, is a bound method: see _identity.)
_CHANGING = {("builtins", "_"), ("builtins", "__"), ("builtins", "___"), ("builtins", "input"),
             ("builtins", "raw_input"), ("getpass", "getpass"), ("sys", "last_type")}


def _is_routine(value) -> bool:
    return isinstance(value, _ROUTINE)


def _identity(value):
    """What stays the same while a routine is the same one.

    A bound method is a new object each time it is made: IPython sets ``sys.excepthook`` to its shell's
    ``excepthook`` method anew for every request, so a bound method is its function and its object.
    """
    if isinstance(value, types.MethodType):
        return id(value.__func__), id(value.__self__)
    return id(value)


class Fingerprint:
    """The identity of every function and class the checks lean on, and a way to read each again."""

    def __init__(self):
        self.entries = []  # (key, read the value now, _identity of the value then)
        self.classes = []  # (key, class, the names of its routines then)
        self.keep = []  # the objects themselves, so that no id is reused
        self.done = set()  # ids of the modules and classes already walked

    def _watch(self, key, read) -> None:
        value = read()
        self.keep.append(value)  # (a bound method keeps its function and object)
        self.entries.append((key, read, _identity(value)))
        if isinstance(value, types.FunctionType):
            for attr in ("__code__", "__defaults__", "__kwdefaults__"):
                part = getattr(value, attr)
                self.keep.append(part)
                self.entries.append((f"{key}.{attr}", lambda r=read, a=attr: getattr(r(), a, _MISSING), id(part)))

    def add_module(self, module) -> None:
        if id(module) in self.done:
            return
        self.done.add(id(module))
        name, namespace = module.__name__, vars(module)
        for attr, value in list(namespace.items()):
            if (name, attr) in _CHANGING or not _is_routine(value):
                continue
            self._watch(f"{name}.{attr}", lambda d=namespace, a=attr: d.get(a, _MISSING))
            if isinstance(value, type) and value.__module__ == name:
                self.add_class(value, f"{name}.{attr}")

    def add_class(self, cls, key) -> None:
        if id(cls) in self.done:
            return
        self.done.add(id(cls))
        names = {attr for attr, value in vars(cls).items() if _is_routine(value)}
        for attr in names:
            self._watch(f"{key}.{attr}", lambda c=cls, a=attr: vars(c).get(a, _MISSING))
        self.classes.append((key, cls, names))

    def add_value(self, value, key) -> None:
        self._watch(key, lambda v=value: v)

    def changes(self) -> list:
        """What is no longer as it was, as readable keys (empty when nothing changed)."""
        changed = [key for key, read, ident in self.entries if _identity(read()) != ident]
        for key, cls, names in self.classes:
            changed += [f"{key}.{attr} (added)" for attr, value in list(vars(cls).items())
                        if attr not in names and _is_routine(value)]
        return changed


_MISSING = object()


class GradingRefused(Exception):
    """The check did not run: the notebook changed what the checks rely on."""


class Runtime:
    """What ``grade.py`` installs in a grading kernel; see the module docstring."""

    def __init__(self, shell, tokens, checks, helpers_source, publish, reads=()):
        self._shell = shell
        self._reads = tuple(reads)  # the names the teacher's code looks up while a check runs
        self._tokens = dict(tokens)
        self._checks = {gid: compile(source, f"<check {gid}>", "exec") for gid, source in checks.items()}
        self._helpers = compile(helpers_source, "<labcheck>", "exec")
        self._publish = publish
        self._protected = {}  # name -> the object a teacher's cell bound to it
        self._fingerprint = Fingerprint()
        self._ran = set()

    def watch(self) -> None:
        """Fingerprint the watched modules loaded now (call before any learner code runs)."""
        for name, module in list(sys.modules.items()):
            if module is not None and any(name == w or name.startswith(w + ".") for w in WATCHED):
                self._fingerprint.add_module(module)
        for name in ("minirpc.http", "minirpc.lossy"):
            if name in sys.modules:
                self._fingerprint.add_module(sys.modules[name])

    def protect(self, names) -> None:
        """Remember what a teacher's cell bound to ``names``; checks see these, not later rebindings."""
        user_ns = self._shell.user_ns
        for name in names:
            if name not in user_ns:
                continue
            value = user_ns[name]
            self._protected[name] = value
            if isinstance(value, type):
                self._fingerprint.add_class(value, f"<notebook>.{name}")
            elif isinstance(value, types.FunctionType):
                self._fingerprint.add_value(value, f"<notebook>.{name}")
            elif isinstance(value, types.ModuleType):
                self._fingerprint.add_module(value)

    def _refuse_if_changed(self, when) -> None:
        changed = self._fingerprint.changes()
        parts = (".__code__", ".__defaults__", ".__kwdefaults__")
        changed = [k for k in changed if not (k.endswith(parts) and k.rsplit(".", 1)[0] in changed)]
        if changed:
            shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
            raise GradingRefused(f"the notebook replaced what the checks rely on ({when}): {shown}") from None

    def _teachers_view(self) -> dict:
        """{name: what the teacher's code must find under it}: the value a teacher's cell bound, or _MISSING
        where the built-in must be found (not a notebook's name that hides it)."""
        view = {}
        for name in self._reads:
            if name in self._protected:
                view[name] = self._protected[name]
            elif not name.startswith("__") and hasattr(builtins, name):
                view[name] = _MISSING
        return view

    def run(self, grade_id) -> None:
        """Run one of the teacher's checks; publish its token only if it ran to the end."""
        if grade_id in self._ran:
            raise GradingRefused(f"{grade_id} ran already")
        self._ran.add(grade_id)
        self._refuse_if_changed("before this check")
        user_ns = self._shell.user_ns
        view = self._teachers_view()
        namespace = dict(user_ns)
        namespace.update(self._protected)
        _put(namespace, {name: value for name, value in view.items() if value is _MISSING})
        helpers = {"__builtins__": builtins, "__name__": "labcheck"}
        exec(self._helpers, helpers)
        namespace.update({k: v for k, v in helpers.items() if not k.startswith("__")})
        namespace["__name__"] = "__main__"
        # The set-up cells' functions read their globals from user_ns when they are called: for as long as the
        # check runs, the names they read are the teacher's there too; then the learner's bindings come back.
        theirs = {name: user_ns.get(name, _MISSING) for name in view}
        _put(user_ns, view)
        try:
            exec(self._checks[grade_id], namespace)
            rebound = [name for name, value in view.items() if user_ns.get(name, _MISSING) is not value]
            if rebound:
                shown = ", ".join(rebound[:6]) + (f" and {len(rebound) - 6} more" if len(rebound) > 6 else "")
                raise GradingRefused(f"the notebook rebound names the checks rely on while this check ran: {shown}")
            self._refuse_if_changed("during this check")
        finally:
            _put(user_ns, theirs)
        self._publish({MIME: {"check": grade_id, "token": self._tokens.pop(grade_id)}}, metadata={})


def _put(namespace: dict, values: dict) -> None:
    """Bind each name to its value in ``namespace``; a name whose value is _MISSING is removed."""
    for name, value in values.items():
        if value is _MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value


def install(tokens, checks, helpers_source, imports=(), reads=()) -> None:
    """Set up the runtime in this kernel and take the fingerprint (grade.py calls this first).

    ``imports`` are the modules the teacher's cells import: they are imported
    here, before any learner code, so that their fingerprint is the real one.
    ``reads`` are the names the teacher's code looks up while a check runs.
    """
    shell = get_ipython()  # noqa: F821 -- this runs inside IPython
    publish = shell.display_pub.publish

    def publish_data(data, metadata):
        publish(data=data, metadata=metadata)

    runtime = Runtime(shell, tokens, checks, helpers_source, publish_data, reads)
    module = types.ModuleType("_minirpc_grading", "The grader's runtime (exercises/gradekernel.py).")
    module.run, module.protect = runtime.run, runtime.protect
    sys.modules["_minirpc_grading"] = module
    for name in ("minirpc", "minirpc.http", "minirpc.lossy", "minirpc.codec", "minirpc.errors", "json", "socket",
                 "struct", "io", "threading", "time", "math", "concurrent.futures", "dataclasses", "contextlib",
                 "signal", "random", *imports):
        try:
            __import__(name)
        except ImportError:
            pass
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and hasattr(pyplot, "_get_backend_mod"):
        pyplot._get_backend_mod()  # pyplot rebinds draw_if_interactive when it first picks its backend
    runtime.watch()
