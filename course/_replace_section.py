"""Replace a chapter's ``## Exercises`` section (heading to end of file) with a new text.

Maintenance helper: it reads the chapter right before writing and touches nothing above
the heading. Usage: ``python course/_replace_section.py notebooks/NN_x.md NEW_SECTION.md``.
"""
import sys
from pathlib import Path

chapter, new = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
text = chapter.read_text()
start = text.find("\n## Exercises\n")
assert start >= 0 and new.startswith("## Exercises\n"), "no Exercises heading"
chapter.write_text(text[:start + 1] + new.rstrip("\n") + "\n")
