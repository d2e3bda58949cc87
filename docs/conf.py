"""Sphinx configuration of pond's documentation site.

Build it (from the repository root, with ``pip install -e '.[docs]'``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery examples in ``docs/examples`` run during the build, so their figures are always those of the code.
"""
import os
import re
import sys
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)  # the checkout's packages, also when pond is not installed in editable mode
os.environ.setdefault("MPLBACKEND", "Agg")

from pond._version import __version__  # noqa: E402

project = "pond"
author = "the pond developers"
copyright = "2026, the pond developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/*.rst"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = []
html_title = f"pond {release}"
html_theme_options = {
    "description": "Spiking and reservoir simulation in Python with Numba",
    "fixed_sidebar": True,
    "page_width": "1140px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

# API reference: one page per public module, listing its public classes and functions, one page each
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False  # a module with __all__ documents exactly its __all__ (re-exports included)
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections state types, units and ranges
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The model zoo's modules import PyTorch; without it (the docs extra does not install it) autodoc reads them mocked
try:
    import torch  # noqa: F401
except ImportError:
    autodoc_mock_imports = ["torch"]

# Gallery: every docs/examples/plot_*.py runs at build time and its figures go into the page
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "matplotlib_animations": False,
    "reference_url": {},
}

# quantities (through neo) warns about an argument numpy 2 made useless; not something the docs can fix
warnings.filterwarnings("ignore", message=".*copy.*argument in Quantity is deprecated.*")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members a class inherits from scikit-learn's machinery (``set_fit_request`` and the other
    metadata-routing methods): they are sklearn's API, documented there, and their docstrings cite sklearn's own
    glossary."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.split(".")[0] == "sklearn":
        return True
    return None


# --- two repairs of docstring markup, applied before numpydoc reads a docstring --------------------------------------
# They keep the -W build green while a docstring elsewhere in the code carries one of these slips; each repair is
# logged with the object's name, so the docstring can be fixed at its source.
_LEARNED = re.compile(r"(?<![\w`\\{}^])([A-Za-z][A-Za-z0-9_]*_)(?=[\s,.;:)\]]|$)")
_LITERAL = re.compile(r"(``.*?``|:[\w:+-]+:`[^`]*`|`[^`]*`_{0,2})")
_FIELD = re.compile(r"^(\s*[\w\\*]+(?:\s*,\s*[\w\\*]+)*\s+:\s+)(.*)$")
_BORDER = re.compile(r"^(\s*)(=+(?:\s+=+)+)\s*$")


def _escape_learned_names(lines: list[str]) -> bool:
    """Show a learned attribute named in running text (``coef_ : views of W_``, "radius of W_") as a literal:
    reST reads a bare ``W_`` as a hyperlink reference to a target that does not exist. Literals, roles and math
    blocks are left alone."""
    changed, in_math, math_indent = False, False, 0
    for k, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if in_math and line.strip() and indent <= math_indent:
            in_math = False
        if line.strip().startswith(".. math::"):
            in_math, math_indent = True, indent
            continue
        if in_math:
            continue
        head, text = "", line
        field = _FIELD.match(line)
        if field and indent == 0:  # a numpydoc field "names : type": the names stay as they are
            head, text = field.group(1), field.group(2)
        elif indent == 0 and re.fullmatch(r"[\w, ]+", line.strip() or "-"):  # a field without a type
            continue
        parts = _LITERAL.split(text)
        for i in range(0, len(parts), 2):
            parts[i] = _LEARNED.sub(r"``\1``", parts[i])
        new = head + "".join(parts)
        if new != line:
            lines[k], changed = new, True
    return changed


def _relayout_tables(lines: list[str]) -> bool:
    """Widen the columns of a simple reST table whose cell text runs into a column margin (docutils refuses such a
    table as malformed). Cells are the runs of text separated by two or more spaces; a line that starts with spaces
    inside the table continues the last column of the row above."""
    changed, k = False, 0
    while k < len(lines):
        m = _BORDER.match(lines[k])
        if not m:
            k += 1
            continue
        lead = m.group(1)
        borders = [k]
        j = k + 1
        while j < len(lines) and len(borders) < 3 and lines[j].strip():
            if _BORDER.match(lines[j]):
                borders.append(j)
            j += 1
        if len(borders) < 3 or j < len(lines) and _BORDER.match(lines[j - 1]) is None:
            k = j
            continue
        border = lines[k][len(lead):]
        gaps = {i + len(lead) for i, c in enumerate(border) if c == " "}
        body = range(k + 1, borders[2])
        if not any(len(lines[r]) > g and lines[r][g] != " " for r in body if r not in borders for g in gaps):
            k = borders[2] + 1
            continue
        n_cols = len(border.split())
        rows = []
        for r in body:
            if r in borders:
                rows.append(None)
                continue
            text = lines[r][len(lead):]
            cells = re.split(r"\s{2,}", text.strip())
            if text.startswith(" "):  # continuation of the last column
                cells = [""] * (n_cols - len(cells)) + cells
            rows.append(cells + [""] * (n_cols - len(cells)))
        widths = [max([len(c) for row in rows if row for c in row[i:i + 1]] + [1]) for i in range(n_cols)]
        rule = lead + "  ".join("=" * w for w in widths)
        new = [rule]
        for row in rows:
            new.append(rule if row is None else lead + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        new.append(rule)
        lines[k:borders[2] + 1] = new
        changed = True
        k += len(new)
    return changed


def _repair_docstring(app, what, name, obj, options, lines):
    from sphinx.util import logging

    repaired = [fix.__name__.strip("_") for fix in (_escape_learned_names, _relayout_tables) if fix(lines)]
    if repaired:
        logging.getLogger(__name__).info(f"docstring of {name}: {', '.join(repaired)} (fix it in the source)")


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("autodoc-process-docstring", _repair_docstring, priority=100)  # before numpydoc (500)
