"""The documentation site: every public class and function is in the API reference, and CI builds the site with
warnings as errors by the command the README names. (The build itself runs in .ci/run, after the tests.)"""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

import pytest
from conftest import REPO

DOCS = REPO / "docs"
PACKAGES = ("engine", "reservoirs", "readouts", "pond")
#: Compiled Numba kernels: an internal layer that only the drivers call (STYLE.md a.1); their interface is the
#: documented classes and functions (engine.random re-exports the random-number kernels other packages may use).
INTERNAL = ("engine.kernels", "reservoirs.kernels")
BUILD_COMMAND = "python -m sphinx -W --keep-going -b html docs docs/_build/html"


def _listed_modules() -> dict[str, str]:
    """Module -> template of every entry of the autosummary blocks in docs/api/index.rst."""
    text = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    listed = {}
    for block in re.split(r"\n(?=\.\. autosummary::)", text)[1:]:
        template = re.search(r":template:\s*(\S+)", block).group(1)
        for line in block.splitlines()[1:]:
            if re.fullmatch(r"   [a-z_][\w.]*", line):
                listed[line.strip()] = template
            elif line and not line.startswith("   "):
                break
    return listed


def _public_modules() -> list[str]:
    names = []
    for top in PACKAGES:
        pkg = importlib.import_module(top)
        names.append(top)
        for info in pkgutil.walk_packages(pkg.__path__, top + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            if info.name.startswith(INTERNAL):
                continue
            names.append(info.name)
    return names


#: Optional dependencies some listed modules import at the top (the torch model zoo): absent outside CI, those modules
#: are left out of these checks; in CI (``CI`` set, torch installed by .ci/run) a missing one is an error.
OPTIONAL = ("torch",)


def _import(name: str):
    """The module ``name``, or None when it needs an optional dependency that is not installed here (outside CI)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if os.environ.get("CI") or (e.name or "").split(".")[0] not in OPTIONAL:
            raise
        return None


def _api_objects(module) -> dict[str, object]:
    """The public classes and functions of a module, which its reference page documents: the callables of
    ``__all__`` when the module has one (``__all__`` declares the public API), else the classes and functions defined
    in the module whose names do not start with an underscore."""
    if hasattr(module, "__all__"):
        items = {}
        for n in module.__all__:
            try:
                items[n] = getattr(module, n)
            except ImportError:  # a lazily imported name that needs an optional dependency (see OPTIONAL)
                if os.environ.get("CI"):
                    raise
        return {n: v for n, v in items.items() if callable(v) and not inspect.ismodule(v)}
    return {n: v for n, v in vars(module).items()
            if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == module.__name__}


def test_every_public_class_and_function_is_in_the_reference():
    listed = _listed_modules()
    assert "engine.network.description" in listed and "readouts" in listed
    documented = {}
    for name, template in listed.items():
        module = _import(name)
        if module is not None and template == "pond_module.rst":
            for obj_name, obj in _api_objects(module).items():
                documented.setdefault(id(obj), f"{name}.{obj_name}")
    missing = []
    for name in _public_modules():
        module = _import(name)
        if module is not None:
            missing += [f"{name}.{n}" for n, v in _api_objects(module).items() if id(v) not in documented]
    assert not missing, (f"public classes and functions missing from the API reference: {missing}; list their "
                         "module in docs/api/index.rst (or give the package that re-exports them an __all__ and "
                         "list the package)")


def test_listed_modules_exist_and_have_docstrings():
    for name in _listed_modules():
        module = _import(name)
        assert module is None or inspect.getdoc(module), f"module {name} has no docstring for its reference page"


def test_templates_and_gallery_are_in_place():
    for template in set(_listed_modules().values()):
        assert (DOCS / "_templates" / template).is_file(), template
    examples = sorted(p.name for p in (DOCS / "examples").glob("plot_*.py"))
    for required in ("plot_cuba_raster.py", "plot_brunel_regimes.py", "plot_esn_mackey_glass.py",
                     "plot_batch_trials.py", "plot_lsm_separation.py", "plot_zoo_liquid.py", "plot_event_mode.py",
                     "plot_pynn_script.py"):
        assert required in examples


def test_ci_builds_the_docs_with_warnings_as_errors_after_the_tests():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    test_command = ".venv/bin/python -m pytest -q"
    assert test_command in ci and BUILD_COMMAND in ci
    assert ci.index(test_command) < ci.index(BUILD_COMMAND)
    assert BUILD_COMMAND in readme


@pytest.mark.parametrize("page", ["getting_started.rst", "user_guide/index.rst", "api/index.rst"])
def test_site_pages_exist(page):
    assert (DOCS / page).is_file()
