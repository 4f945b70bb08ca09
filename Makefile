# Two entry points (see README):
#   make book   set up everything, then render the book (HTML + PDF) into _book/
#   make test   set up everything, then run all tests (lint, unit tests, book checks,
#               every notebook under nbval, workflow schema validation)
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Offline data mirror: use $BIOIMAGING_GUIDE_MIRROR if set, else ../shared/data if
# that folder exists; otherwise the data loader downloads from the pinned URLs.
MIRROR := $(or $(BIOIMAGING_GUIDE_MIRROR),$(wildcard $(abspath ../shared/data)))

.PHONY: setup lint test book quarto clean help
help:
	@sed -n '1,6p' Makefile

setup:
	@VENV=$(VENV) scripts/setup-env

lint: setup
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check

test: setup lint
	@echo "data mirror: $(if $(MIRROR),$(MIRROR),none (downloading from the pinned URLs))"
	BIOIMAGING_GUIDE_MIRROR=$(MIRROR) MPLBACKEND=Agg $(PY) -m pytest

book: setup
	@VENV=$(VENV) scripts/render-book

clean:
	rm -rf _book .quarto
