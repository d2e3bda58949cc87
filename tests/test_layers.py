"""The import graph: no cycle between modules, no import that points up the engine's layers or across the packages'
one-way rules (ARCHITECTURE.md), no package importing another's private module, nothing importing benchmarks."""
import ast
from collections import defaultdict

import pytest

from conftest import REPO

PACKAGES = ("engine", "reservoirs", "readouts", "pond")
#: the engine's layers, lowest first; a module may import its own layer and those below (longest prefix wins)
LAYERS = {
    "engine.kernels": 0, "engine.random": 0, "engine.interrupt": 0, "engine.progress": 0, "engine._version": 0,
    "engine.network.distributions": 1, "engine.network.grid": 1,
    "engine.models": 2,
    "engine.network": 3,
    "engine.build": 4,
    "engine.parallel.mpi": 4,  # the spike exchange between ranks, called by the simulators
    "engine.run": 5,
    "engine.parallel": 6,  # Dask: trials and sweeps of simulators
    "engine.io": 7,
    "engine": 8,  # the package's own __init__: public names, loaded lazily
}


def _module_name(path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[tuple[str, bool]]]:
    """Every product module's imports of the project's modules: ``{module: {(imported, at_top_level)}}``."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            name = _module_name(path)
            tree = ast.parse(path.read_text(), str(path))
            top = {id(n) for n in tree.body}
            found = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    mods = [f"{node.module}.{a.name}" for a in node.names]  # a submodule, or a name of the module
                elif isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                else:
                    continue
                for m in mods:
                    if m.split(".")[0] in PACKAGES + ("benchmarks",):
                        found.add((m, id(node) in top))
            out[name] = found
    return out


IMPORTS = _imports()
MODULES = set(IMPORTS)


def _resolve(name: str) -> str | None:
    """The product module an import names (``from engine.kernels import csr`` names ``engine.kernels.csr``,
    ``from engine.kernels.csr import fill_rows`` names ``engine.kernels.csr``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _graph(engine_only: bool) -> dict[str, set[str]]:
    g = defaultdict(set)
    for mod, found in IMPORTS.items():
        for imported, _ in found:
            target = _resolve(imported)
            if target and target != mod and not mod.startswith(target + ".") \
                    and not (engine_only and not target.startswith("engine")):
                g[mod].add(target)  # a module's own packages are loaded before it in any case
    return g


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return comps


def test_no_import_cycle():
    """Counting imports inside functions too: a lazy import hides a cycle, it does not remove it. A package's
    ``__init__`` that loads its public names lazily is the one allowed exception (it imports what lies below it)."""
    g = _graph(engine_only=False)
    for pkg in PACKAGES:
        for target in list(g.get(pkg, ())):
            g[pkg].discard(target)
    assert _cycles(g) == []


def test_engine_layers_point_down():
    upward = []
    for mod, found in IMPORTS.items():
        if not mod.startswith("engine.") or mod.startswith("engine.kernels"):
            continue
        for imported, _ in found:
            target = _resolve(imported)
            if target and target.startswith("engine") and target != "engine" and _layer(target) > _layer(mod):
                upward.append(f"{mod} -> {target}")
    assert upward == []


def test_kernels_import_only_kernels_and_model_updates():
    """Compiled code imports numpy, numba, other kernels and (the dispatch lists) the models' compiled updates."""
    bad = [f"{mod} -> {imp}" for mod, found in IMPORTS.items() if mod.startswith("engine.kernels")
           for imp, _ in found if not imp.startswith(("engine.kernels", "engine.models"))]
    assert bad == []


@pytest.mark.parametrize("pkg, forbidden", [
    ("engine", ("reservoirs", "readouts", "pond")),
    ("readouts", ("reservoirs", "engine", "pond")),
    ("reservoirs", ("pond",)),
])
def test_packages_import_one_way(pkg, forbidden):
    bad = [f"{mod} -> {imp}" for mod, found in IMPORTS.items() if mod.split(".")[0] == pkg
           for imp, _ in found if imp.split(".")[0] in forbidden]
    assert bad == []


def test_reservoirs_core_never_imports_its_adapters():
    bad = [f"{mod} -> {imp}" for mod, found in IMPORTS.items()
           if mod.startswith("reservoirs") and not mod.startswith("reservoirs.adapters")
           for imp, _ in found if imp.startswith("reservoirs.adapters")]
    assert bad == []


def test_no_private_module_of_another_package_and_no_benchmarks():
    bad = []
    for mod, found in IMPORTS.items():
        for imp, _ in found:
            if imp.split(".")[0] == "benchmarks":
                bad.append(f"{mod} -> {imp}")
            target = _resolve(imp) or imp
            private = [p for p in target.split(".") if p.startswith("_") and p != "__init__"]
            if private and target.split(".")[0] != mod.split(".")[0]:
                bad.append(f"{mod} -> {target}")
    assert bad == []


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks above are not vacuous."""
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert _layer("engine.network.description") > _layer("engine.models.neurons.iaf_psc_exp")
    assert _layer("engine.io.modelfile") > _layer("engine.run.simulator")
    assert len(MODULES) > 50 and any(f for f in IMPORTS.values())
