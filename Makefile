# The README's two commands. Each builds its own virtualenv from scratch, so both work the
# same from a fresh clone as on a machine that ran them before.

PYTHON ?= python3
VENV ?= .venv
TEST_VENV ?= .venv-test
# What `make demo` runs once installed.
MAIN_CMD ?= status

.PHONY: demo test clean

demo:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	$(VENV)/bin/worktally $(MAIN_CMD)

test:
	rm -rf $(TEST_VENV)
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet -e '.[test]'
	$(TEST_VENV)/bin/ruff check .
	$(TEST_VENV)/bin/mypy client lsp aggregator
	$(TEST_VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(TEST_VENV)
