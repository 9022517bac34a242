"""Sphinx configuration of fastopt's documentation.

Build (warnings are errors, as in CI)::

    pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)  # document this checkout's fastopt, not an installed copy
sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))

import fastopt  # noqa: E402

project = "fastopt"
author = "the fastopt developers"
copyright = "the fastopt developers"
release = fastopt.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",    # Google-style sections (Args:, Returns:, Raises:) in docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",            # Markdown pages (docs/guide/*.md)
    "plainmath",              # docstring equations in plain Unicode -> TeX (docs/_ext)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "api/generated/*.md"]
templates_path = ["_templates"]

# -- MyST: $...$ / $$...$$ math, ::: fences, heading anchors for [links](#anchor) -----------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 4
myst_dmath_double_inline = True

# -- autodoc / autosummary / napoleon ---------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_member_order = "bysource"
autodoc_typehints = "none"           # signatures carry no annotations; docstrings say the types
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML: the pydata theme of the NumPy and scikit-learn docs --------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastopt {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": []}
html_show_sourcelink = False

# No network: intersphinx and remote images stay off, so the build works offline.
suppress_warnings = []
nitpicky = False
