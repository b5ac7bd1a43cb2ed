"""The book without its solutions, for instructors to publish to their students.

With ``student_edition = True`` in the Sphinx config (``make book-student`` sets it), every
solution is removed from the pages: ``{solution}`` blocks and the gated ones, everything
between ``{solution-start}`` and ``{solution-end}`` (their code cells and outputs too).
sphinx-exercise's own ``hide_solutions`` drops only the ``solution-start`` marker and leaves
the gated code in the page, so this runs after sphinx-exercise has merged each gated span
into one solution node (on ``doctree-read``, after every transform) and removes those nodes.
Off by default: the book itself keeps its folded solutions.
"""

from __future__ import annotations

from docutils import nodes
from sphinx_exercise.nodes import solution_node


def drop_solutions(app, doctree: nodes.document) -> None:
    if not app.config.student_edition:
        return
    for node in list(doctree.findall(solution_node)):
        node.parent.remove(node)


def setup(app):
    app.add_config_value("student_edition", False, "env")
    app.connect("doctree-read", drop_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
