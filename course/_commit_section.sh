#!/usr/bin/env bash
# Commit only the Exercises section of chapters (the text from "## Exercises" to the end),
# leaving any other uncommitted edits of those files unstaged. Usage: _commit_section.sh MSG FILE...
set -euo pipefail
msg=$1; shift
if [ -n "$(git diff --cached --name-only)" ]; then echo "index not clean" >&2; exit 1; fi
for f in "$@"; do
  sha=$(python3 - "$f" <<'PY' | git hash-object -w --stdin
import subprocess, sys
f = sys.argv[1]
head = subprocess.run(["git", "show", f"HEAD:{f}"], capture_output=True, text=True, check=True).stdout
work = open(f).read()
h, w = head.find("\n## Exercises\n"), work.find("\n## Exercises\n")
sys.stdout.write(head[:h + 1] + work[w + 1:])
PY
)
  git update-index --cacheinfo 100644,"$sha","$f"
done
git commit -q -m "$msg"
