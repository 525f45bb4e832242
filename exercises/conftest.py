"""pytest settings for the labs.

``pyproject.toml`` runs ``--nbval`` over ``exercises/``: every lab's
solution.ipynb is executed and its outputs compared.  The generated
student.ipynb files are *meant* to fail their checks, so nbval must not
collect them (tests/test_exercises.py checks that they fail, and fail well).
"""

import os
from pathlib import Path

collect_ignore_glob = ["*/student.ipynb", "*/.ipynb_checkpoints/*"]

# The lab kernels import minirpc.  With `pip install -e .` it is importable
# anyway; from a bare checkout, put the repository root on the kernels' path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
