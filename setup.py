"""The compiled build of the engine's hot path (everything else is in pyproject.toml).

mypyc, the compiler that ships with mypy, turns the typed Python modules that
run for every applicant (agenda, conditions, expressions, facts, calendar,
compiler, policy, decision, and the batch's per-row work) into C extensions.
They are compiled from the same source, so a compiled module does exactly
what its source says, only faster; the test suite runs against both builds
(``make test``).

followup installs as pure Python instead when

* the environment variable ``FOLLOWUP_PURE`` is set to anything but empty;
* the install is editable (``pip install -e``): a compiled module sits in
  front of its source and would hide every later edit;
* mypyc cannot compile the modules, or the C compiler fails: the build says
  so on stderr and goes on (the extensions are optional).

``followup --version`` says which build is installed, ``followup.engine.HOT_MODULES``
which modules are compiled.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def _hot_modules() -> tuple[str, ...]:
    """``followup.engine.HOT_MODULES``, read without importing the package: its
    dependencies need not be installed where it is built."""
    tree = ast.parse((HERE / "engine" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "HOT_MODULES":
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError("engine/__init__.py no longer defines HOT_MODULES")


def _editable() -> bool:
    # setuptools runs this file with the command as argv; editable installs use these
    return any(arg in ("editable_wheel", "develop") for arg in sys.argv[1:])


def _stage() -> Path:
    """A copy of the sources laid out as the installed package, so mypyc names the
    modules ``followup.engine.*`` (the project maps folders to packages)."""
    stage = HERE / "build" / "mypyc-src"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "followup").mkdir(parents=True)
    shutil.copy2(HERE / "pkg" / "__init__.py", stage / "followup" / "__init__.py")
    shutil.copytree(
        HERE / "engine", stage / "followup" / "engine", ignore=shutil.ignore_patterns("*.so")
    )
    return stage


def _compiled() -> list[object]:
    if os.environ.get("FOLLOWUP_PURE") or _editable():
        return []
    try:
        from mypyc.build import mypycify

        stage = _stage()
        paths = [
            str((stage / "followup" / "engine" / f"{m}.py").relative_to(HERE))
            for m in _hot_modules()
        ]
        extensions = mypycify(paths, opt_level="3", group_name="followup.engine._compiled")
    except (Exception, SystemExit) as exc:  # mypyc reports type errors by exiting
        print(
            f"followup: not compiling the engine ({exc}); installing pure Python", file=sys.stderr
        )
        return []
    for ext in extensions:
        ext.optional = True  # no C compiler: pure Python
    return list(extensions)


setup(ext_modules=_compiled())
