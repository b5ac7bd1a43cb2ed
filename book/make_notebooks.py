"""Generate the Colab/download notebooks (``notebooks/NN_*.ipynb``) from the MyST chapters.

Plain Jupyter and Colab render neither MyST directives nor Sphinx roles, so each chapter is read
with jupytext and its markdown is rewritten: exercises become headings, solutions fold in HTML
``<details>`` (their code shown, not run), admonitions become block quotes, numbered equations
keep their LaTeX with a ``\\tag``, references become text and ``literalinclude`` becomes the
code it names. A setup cell is put first: on a machine without ``recsys_lib`` (Colab) it
clones the book's repository (``repository.url`` in ``_config.yml``), installs it and makes it
importable in the running kernel; elsewhere it does nothing, and git and pip print only
when they fail. A parameter the book build sets for its own checks gets a student's value
instead (:data:`STUDENT_DEFAULTS`: ``CHECK_RECORD = False``, minutes saved on a CPU), with a
comment saying how to turn the check on.

    python book/make_notebooks.py           # write notebooks/NN_*.ipynb
    python book/make_notebooks.py --check   # exit 1 when a notebook differs from its source

The notebooks are never edited by hand. They sit beside their sources, where the book's Colab
and Binder buttons (built from ``repository.url``) and Colab's GitHub loader find them; the
book build and the tests ignore them (``_config.yml``, ``pyproject.toml``).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "notebooks"
OUT = CHAPTERS

SETUP = '''# Setup. On Colab, or wherever recsys_lib is missing, this fetches the book's code and
# recorded runs and installs them; no runtime restart is needed. Elsewhere it does nothing.
import importlib.util
import os
import subprocess
import sys


def quietly(command):
    """Run command; show its output only if it fails (pip's notices stay out of sight)."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\\n")
        raise RuntimeError(f"failed ({{done.returncode}}): {{' '.join(command)}}")


if importlib.util.find_spec("recsys_lib") is None:
    REPOSITORY = "{url}"
    print(f"recsys_lib is not installed: cloning {{REPOSITORY}} and installing it ...")
    if not os.path.isdir("book-code"):  # a second try after a failed install reuses it
        quietly(["git", "clone", "--quiet", "--depth", "1", REPOSITORY, "book-code"])
    quietly([sys.executable, "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "--no-warn-script-location", "-e", "book-code"])
    sys.path.insert(0, "book-code")  # importable in this kernel at once
    print("done: recsys_lib is ready")'''

# The Scale part's Spark chapter also needs pyspark (the package's `scale` extra) and Java 17
# or newer (book/install_java.sh: Debian's or Ubuntu's openjdk-17-jre-headless, as on Colab).
SPARK_SETUP = '''

from recsys_lib import spark_runtime

if (importlib.util.find_spec("pyspark") is None
        or (spark_runtime.java_major_version() or 0) < spark_runtime.JAVA_MAJOR):
    from pathlib import Path

    code = Path(spark_runtime.__file__).parents[1]
    print("installing pyspark and, where it is missing, Java 17 for Spark ...")
    quietly([sys.executable, "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "--no-warn-script-location", "-e",
             f"{{code}}[scale]"])
    subprocess.run(["bash", str(code / "book" / "install_java.sh")], check=True)
    importlib.invalidate_caches()  # pyspark importable in this kernel at once'''
#: chapters whose setup cell adds more than recsys_lib
EXTRA_SETUP = {"14_spark_als": SPARK_SETUP}

#: parameters whose value in a student's notebook differs from the book build's: the build
#: retrains a run and holds it to its record (minutes on a CPU); a student opts in
STUDENT_DEFAULTS = {
    "CHECK_RECORD": ("False", "# False here, True in the book's build: set it to True to "
                              "retrain the\n# run and check it against its record yourself"),
}


def student_parameters(source: str) -> str:
    """A parameters cell with :data:`STUDENT_DEFAULTS`: each such assignment gets the
    student's value, after a comment saying what the build uses and how to turn it on."""
    for name, (value, note) in STUDENT_DEFAULTS.items():
        source = re.sub(rf"^{name} *=.*$", f"{note}\n{name} = {value}", source, flags=re.M)
    return source


DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}[ \t]*(.*)$")
ADMONITIONS = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
               "seealso": "See also", "caution": "Caution", "hint": "Hint",
               "admonition": ""}


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def chapter_titles() -> dict[str, str]:
    """``{"05_svdpp": "5. SVD++ ..."}``: the first heading of each chapter, numbered."""
    titles = {}
    for number, path in enumerate(sorted(CHAPTERS.glob("[0-9][0-9]_*.md")), 1):
        heading = next(line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# "))
        titles[path.stem] = f"Chapter {number}, *{heading[2:].strip()}*"
    titles["book/instructors"] = "the instructors' page of the book"
    titles["book/intro"] = "the book's introduction"
    return titles


def pyobject_source(path: Path, name: str) -> str:
    """The source of class/function ``name`` (``Class.method`` allowed) in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines()
    nodes = tree.body
    node = None
    for part in name.split("."):
        node = next(n for n in nodes if getattr(n, "name", None) == part)
        nodes = getattr(node, "body", [])
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1:node.end_lineno])


def _body_and_options(lines: list[str]) -> tuple[dict, list[str]]:
    options, index = {}, 0
    while index < len(lines) and re.match(r"^:[\w-]+:", lines[index]):
        key, _, value = lines[index][1:].partition(":")
        options[key] = value.strip()
        index += 1
    return options, lines[index:]


class Converter:
    """Rewrites the markdown of one chapter; keeps numbering state across its cells."""

    def __init__(self, stem: str, titles: dict[str, str]) -> None:
        self.stem, self.titles = stem, titles
        self.equations: dict[str, int] = {}
        self.exercises = 0
        self.chapter_number = int(stem[:2]) if stem[:2].isdigit() else 0

    def number_equations(self, text: str) -> None:
        for label in re.findall(r"^\$\$ *\(([\w-]+)\)\s*$", text, flags=re.M):
            self.equations.setdefault(label, len(self.equations) + 1)

    def roles(self, text: str) -> str:
        def eq(match):
            number = self.equations.get(match.group(1))
            return f"({self.chapter_number}.{number})" if number else "(the equation above)"

        def doc(match):
            target = match.group(1).strip("/").removeprefix("notebooks/")
            target = target.split("<")[-1].rstrip(">") if "<" in target else target
            return self.titles.get(target, target)

        text = re.sub(r"\{eq\}`([\w-]+)`", eq, text)
        text = re.sub(r"\{doc\}`([^`]+)`", doc, text)
        text = re.sub(r"\{(?:ref|numref|term|cite)\}`([^`<]*?)\s*(?:<[^`]*>)?`", r"\1", text)
        text = re.sub(r"\{math\}`([^`]*)`", r"$\1$", text)
        return re.sub(r"^\([\w-]+\)=\s*$\n?", "", text, flags=re.M)

    def equations_with_tags(self, text: str) -> str:
        def tag(match):
            body, label = match.group(1), match.group(2)
            return f"$${body}\\tag{{{self.chapter_number}.{self.equations[label]}}}$$"

        return re.sub(r"\$\$(.*?)\$\$ *\(([\w-]+)\)", tag, text, flags=re.S)

    def directive(self, name: str, argument: str, lines: list[str]) -> list[str]:
        options, body = _body_and_options(lines)
        body_text = self.convert("\n".join(body)).strip("\n")
        if name == "exercise":
            self.exercises += 1
            title = f": {argument}" if argument else ""
            return [f"#### Exercise {self.chapter_number}.{self.exercises}{title}", "",
                    body_text]
        if name == "solution":
            return ["<details><summary>Solution</summary>", "", body_text, "", "</details>"]
        if name == "literalinclude":
            source = pyobject_source(ROOT / argument.lstrip("/"), options["pyobject"]) \
                if "pyobject" in options else (ROOT / argument.lstrip("/")).read_text(encoding="utf-8")
            return [f"From `{argument.lstrip('/')}`:", "", "```python", source, "```"]
        if name in ADMONITIONS:
            title = argument if name == "admonition" else ADMONITIONS[name]
            quoted = [f"> **{title}.**" if title else ">", ">"]
            return quoted + [f"> {line}" if line else ">" for line in body_text.splitlines()]
        if name == "math":
            return ["$$", body_text, "$$"]
        return [body_text]  # any other directive: its content as plain text

    def convert(self, text: str) -> str:
        """Directives rewritten, roles turned into text, equations tagged."""
        lines, out, index = text.splitlines(), [], 0
        while index < len(lines):
            match = DIRECTIVE.match(lines[index])
            if not match:
                out.append(lines[index])
                index += 1
                continue
            fence, name, argument = match.groups()
            end = index + 1
            while end < len(lines) and lines[end].rstrip() != fence:
                end += 1
            out.extend(self.directive(name, argument.strip(), lines[index + 1:end]))
            index = end + 1
        return self.equations_with_tags(self.roles("\n".join(out)))


GATE_START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}.*?^\1\s*$", re.M | re.S)
GATE_END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}.*?^\1\s*$", re.M | re.S)


def gated_solutions(cells: list) -> list:
    """Fold each ``solution-start`` ... ``solution-end`` span (markdown and code cells) into
    one markdown cell with ``<details>``; the solution's code is shown, not run. A markdown
    cell may end one span and start the next (jupytext joins consecutive markdown)."""
    out, inside = [], None
    for cell in cells:
        if cell.cell_type != "markdown":
            if inside is None:
                out.append(cell)
            else:
                inside.append(f"```python\n{cell.source.strip()}\n```")
            continue
        source = cell.source
        if inside is None and not GATE_START.search(source):
            out.append(cell)
            continue
        while source.strip():
            if inside is None:
                start = GATE_START.search(source)
                before = source[:start.start()] if start else source
                if before.strip():
                    out.append(nbformat.v4.new_markdown_cell(before.strip()))
                if not start:
                    break
                inside, source = [], source[start.end():]
            else:
                end = GATE_END.search(source)
                part = source[:end.start()] if end else source
                if part.strip():
                    inside.append(part.strip())
                if not end:
                    break
                body = "\n\n".join(inside)
                out.append(nbformat.v4.new_markdown_cell(
                    f"<details><summary>Solution</summary>\n\n{body}\n\n</details>"))
                inside, source = None, source[end.end():]
    return out


def build(path: Path, titles: dict[str, str], url: str) -> nbformat.NotebookNode:
    notebook = jupytext.read(path)
    converter = Converter(path.stem, titles)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            converter.number_equations(cell.source)
    cells = gated_solutions(notebook.cells)
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = converter.convert(cell.source)
        cell.pop("id", None)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            cell.source = student_parameters(cell.source)
    setup = nbformat.v4.new_code_cell((SETUP + EXTRA_SETUP.get(path.stem, "")).format(url=url))
    setup.metadata["tags"] = ["setup"]
    cells = [setup, *cells]
    for index, cell in enumerate(cells):
        cell["id"] = f"{path.stem[:2]}-{index:03d}"  # stable ids: regeneration is a no-op
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed notebooks instead of writing them")
    args = parser.parse_args(argv)
    titles, url = chapter_titles(), repository_url()
    stale = []
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.md")):
        text = nbformat.writes(build(path, titles, url)) + "\n"
        target = OUT / f"{path.stem}.ipynb"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale or missing: {', '.join(stale)}; run python book/make_notebooks.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
