# Two commands do all the set-up on a fresh clone:  `make book`  and  `make test`.
# Each creates .venv (torch==2.13.0 first, then the pinned package), prepares the corpora once
# (reusing the download cache afterwards), and is safe to run again.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install data assets book browser browser-deps test test-slow clean-book

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[train,book,slurm,test]"
	touch $(STAMP)

install: $(STAMP)

data: install
	$(PY) -m transfer_laws data ensure

assets: install
	$(PY) -m transfer_laws site assets _assets

book: data assets
	rm -rf _build/.jupyter_cache
	$(VENV)/bin/jupyter-book build . --all -W -n --keep-going
	$(PY) -m transfer_laws site check _build/html

# Debian's chromium for the browser test (root or sudo; apt-get only when it is missing).
browser-deps:
	command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; }

# Every page in headless Chromium: no console error, no failed request, every chart rendered;
# saves _build/screenshots/07_transfer_law.png. Run after `make book`.
browser: install browser-deps
	$(PY) -m transfer_laws browser _build/html

test: data
	$(PY) -m pytest

test-slow: data browser-deps
	$(PY) -m pytest -m slow

clean-book:
	rm -rf _build
