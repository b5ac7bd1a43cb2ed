"""book/_ext/student_edition.py: with ``student_edition`` set (make book-student) the pages
hold no solution, gated or not; without it the book keeps them (folded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PAGE = '''\
---
kernelspec:
  name: python3
  display_name: Python 3
jupytext:
  text_representation:
    format_name: myst
---
# A chapter

## Exercises

```{exercise}
:label: demo-ex-gated

EXERCISE-TEXT-GATED: write a function.
```

````{solution-start} demo-ex-gated
:class: dropdown
````

Some words of the gated solution: GATED-PROSE.

```{code-cell} ipython3
def gated_solution_code():
    return "GATED-CODE"
```

````{solution-end}
````

```{exercise}
:label: demo-ex-plain

EXERCISE-TEXT-PLAIN: explain it.
```

```{solution} demo-ex-plain
:class: dropdown

PLAIN-SOLUTION-TEXT.
```

After the exercises: AFTER-TEXT.
'''

CONF = f'''\
import sys
sys.path.insert(0, {str(ROOT / "book" / "_ext")!r})
extensions = ["myst_nb", "sphinx_exercise", "student_edition"]
nb_execution_mode = "off"
exclude_patterns = ["_build"]
'''


@pytest.mark.parametrize("student", [False, True])
def test_the_student_edition_holds_no_solution(tmp_path, student):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "conf.py").write_text(CONF)
    (tmp_path / "src" / "index.md").write_text(PAGE)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(tmp_path / "src"),
               str(tmp_path / "html")]
    if student:
        command[3:3] = ["-D", "student_edition=1"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "html" / "index.html").read_text()
    for kept in ("EXERCISE-TEXT-GATED", "EXERCISE-TEXT-PLAIN", "AFTER-TEXT"):
        assert kept in page, kept
    for secret in ("GATED-PROSE", "GATED-CODE", "gated_solution_code", "PLAIN-SOLUTION-TEXT"):
        assert (secret in page) != student, secret
