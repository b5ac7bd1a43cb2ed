# make book: create .venv, install everything, build the book to _build/html (all notebooks run)
# make test: unit tests plus every chapter notebook through nbval (the full gate)
# make test-fast: what a contributor runs while editing (no chapters, nothing slow; ~2 min)
# make book-ci: the strict build CI runs (warnings are errors, no execution cache)
# make lab: JupyterLab on the chapters (each .md opens as a notebook, its MyST rendered);
#   PORT=8888 IP=localhost by default, e.g. make lab PORT=8890 IP=0.0.0.0
# make notebooks: regenerate the Colab/download notebooks notebooks/NN_name.ipynb
# make browser-test: every page of the built book in headless Chromium (needs Debian's
#   chromium and chromium-driver; screenshots in _build/screenshots/)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JupyterLab's settings, read from the venv (never the user's home): a double click opens a
# chapter .md as a Jupytext notebook (book/lab/overrides.json), unmodified (book/lab/*.py)
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json \
  $(VENV)/etc/jupyter/jupyter_server_config.py
# Offline machines with the shared data mirror beside the checkout use it automatically;
# the mirror goes through the same hash-checked fetch as a download.
ifneq ($(wildcard ../shared/datasets/MANIFEST.md),)
export RECSYS_DATA_MIRROR ?= $(abspath ../shared/datasets)
endif
export PYDEVD_DISABLE_FILE_VALIDATION = 1
# A read-only HOME (a locked-down account or container): pip's cache and Jupyter's, IPython's
# and matplotlib's folders go to the temporary folder instead, as recsys_lib's data cache does.
ifneq ($(shell test -w "$$HOME" && echo yes),yes)
SCRATCH := $(or $(TMPDIR),/tmp)/recsys_lib-home-$(shell id -u)
export XDG_CACHE_HOME ?= $(SCRATCH)/cache
export PIP_CACHE_DIR ?= $(SCRATCH)/cache/pip
export JUPYTER_CONFIG_DIR ?= $(SCRATCH)/jupyter/config
export JUPYTER_DATA_DIR ?= $(SCRATCH)/jupyter/data
export JUPYTER_RUNTIME_DIR ?= $(SCRATCH)/jupyter/runtime
export IPYTHONDIR ?= $(SCRATCH)/ipython
export MPLCONFIGDIR ?= $(SCRATCH)/matplotlib
endif

.PHONY: install data book book-ci test test-fast browser-test lab notebooks results clean

install: $(STAMP) $(LAB_SETTINGS)

# torch is pinned to the exact CPU build this machine carries; see README for GPU machines.
# The Scale part's Spark needs Java 17 or newer: Debian's openjdk-17-jre-headless where none is
# found (book/install_java.sh; elsewhere it says what to install and carries on).
$(STAMP): pyproject.toml
	bash book/install_java.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[book,test,course,scale]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 $(KERNEL_NAME) >/dev/null
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/python -m recsys_lib fetch --all

# jupyter-cache keys on notebook code only, so drop it whenever the library or records change.
LIB_HASH = $(shell cat pyproject.toml $$(git ls-files -co --exclude-standard recsys_lib results) 2>/dev/null | sha256sum | cut -c1-16)
CACHE := _build/.jupyter_cache

# The hash is written before the build: a failed build keeps every notebook it executed
# (jupyter-cache stores only notebooks that ran without error), so the next one re-runs
# only what failed or changed.
book: $(STAMP) data
	@mkdir -p _build
	@if [ "$$(cat _build/.lib_hash 2>/dev/null)" != "$(LIB_HASH)" ]; then \
	  rm -rf $(CACHE); echo "$(LIB_HASH)" > _build/.lib_hash; fi
	$(BIN)/jupyter-book build . --builder html

# The book without its solutions, for instructors to publish to their students
# (book/_ext/student_edition.py removes every solution, folded or gated): after make book,
# from its execution cache, so no chapter runs again; in _build/html-student.
book-student: book
	$(BIN)/python book/student_config.py _build/student/_config.yml $(CACHE)
	$(BIN)/jupyter-book build . --builder html --config _build/student/_config.yml \
	  --path-output _build/student
	rm -rf _build/html-student && mv _build/student/_build/html _build/html-student

# root may run it here (a container); a student's account needs no flag
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888
IP ?= localhost
# the datasets are fetched only when one is missing (fetch --all verifies every file)
DATA_AT_HAND = $(BIN)/python -c "import sys; from recsys_lib import data; \
  sys.exit(any(not data.cache_state(data.DATASETS[n]).startswith('cached') \
               for n in data.real_datasets()))"
lab: $(STAMP) $(LAB_SETTINGS)
	@$(DATA_AT_HAND) || $(BIN)/python -m recsys_lib fetch --all
	$(BIN)/jupyter lab $(LAB_ROOT) --ip=$(IP) --port=$(PORT) notebooks

# The kernel carries the display name the chapters' headers give it: JupyterLab rewrites a
# different one into the notebook as it opens, which marks a chapter modified at once.
KERNEL_NAME := --display-name "Python 3"
$(VENV)/share/jupyter/lab/settings/overrides.json: book/lab/overrides.json $(STAMP) Makefile
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 $(KERNEL_NAME) >/dev/null
	@mkdir -p $(dir $@)
	cp $< $@

# (opening a chapter marks nothing modified: see the file)
$(VENV)/etc/jupyter/jupyter_server_config.py: book/lab/jupyter_server_config.py $(STAMP)
	@mkdir -p $(dir $@)
	cp $< $@

notebooks: $(STAMP)
	$(BIN)/python book/make_notebooks.py

# every run the Results part needs that is not recorded yet; resumable, see README
results: $(STAMP) data
	$(BIN)/python -m recsys_lib results

# EXECUTED=FOLDER (CI): the chapters the tests executed (RECSYS_EXECUTED_DIR, see the root
# conftest.py) seed the execution cache, so the build does not execute them a second time.
book-ci: $(STAMP) data
	rm -rf _build
	$(if $(EXECUTED),$(BIN)/python book/seed_cache.py $(EXECUTED))
	$(BIN)/jupyter-book build . --builder html -W --keep-going

# Two pytest workers, one thread each: two torch processes with two threads apiece would
# fight over the two cores.
# OMP_WAIT_POLICY=PASSIVE: the chapters' record checks train on two threads beside the other
# worker, and spinning OpenMP threads would slow both (it changes no sum).
test: $(STAMP) data
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n 2 --dist loadfile \
	  --nbval-lax --durations=25

# The tiers are markers (tests/conftest.py): chapters, realdata, slow.
test-fast: $(STAMP) data
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile -m "not chapters and not slow" tests

# Run after make book or make book-ci; the network stays off for the browser.
browser-test: $(STAMP)
	@test -f _build/html/index.html || { echo "no built book: run make book-ci first"; exit 2; }
	@command -v chromium >/dev/null && test -x /usr/bin/chromedriver || { \
	  echo "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"; \
	  exit 2; }
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_browser.py

# The course edition (course/build.py): student notebooks without solutions in
# _build/course/student, solutions, hidden checks and rubrics in _build/course/instructor.
# (otter-grader comes with the course extra, which make install includes)
.PHONY: course course-check grade
# COURSE_PRIVATE=../my-course: an instructor's overlay folder outside the repository (graded
# variants, their solutions and hidden checks), merged into both editions
course: $(STAMP)
	$(BIN)/python course/build.py --out _build/course \
	  $(if $(COURSE_PRIVATE),--private "$(COURSE_PRIVATE)")

# Grades with otter run, no Docker: the instructor notebooks (full marks), the blank student
# notebooks (zero), the library wrappers (zero: the checks disable recsys_lib's answer) and
# the solutions again (identical scores); the last line printed is a JSON summary.
course-check: course data
	OMP_NUM_THREADS=1 $(BIN)/python course/check.py --course _build/course --jobs 2

# make grade SUBMISSIONS=dir: grades a folder of submissions (one .ipynb per student, or one
# folder per student) without Docker; one gradebook CSV in GRADES (default _build/grades).
GRADES ?= _build/grades
# (the folder is checked before the course is built)
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "error: make grade needs SUBMISSIONS=folder" >&2; \
	  exit 2; }
	@$(BIN)/python course/grade.py "$(SUBMISSIONS)" --check-only
	$(MAKE) --no-print-directory course
	OMP_NUM_THREADS=1 $(BIN)/python course/grade.py "$(SUBMISSIONS)" --course _build/course \
	  --out "$(GRADES)" --jobs 2

# The hand-graded answers of a folder of submissions, side by side per question with the
# rubrics, for grading them: course/answers.py writes one HTML page.
.PHONY: course-answers book-student
course-answers: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "error: give SUBMISSIONS=folder" >&2; exit 2; }
	$(BIN)/python course/answers.py "$(SUBMISSIONS)" --out $(or $(OUT),_build/course/answers.html)

clean:
	rm -rf _build
