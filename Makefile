# The README's two commands. Each builds its own virtualenv from scratch, so both work the
# same from a fresh clone as on a machine that ran them before. The demo uses a regular
# install and the tests an editable one, so both install modes stay exercised.

PYTHON ?= python3
VENV ?= .venv
TEST_VENV ?= .venv-test
# What `make demo` runs once installed.
MAIN_CMD ?= demo

.PHONY: demo test test-extension vsix clean

demo:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet .
	$(VENV)/bin/worktally $(MAIN_CMD)

test:
	rm -rf $(TEST_VENV)
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet -e '.[test]'
	$(TEST_VENV)/bin/ruff check .
	$(TEST_VENV)/bin/mypy client lsp aggregator
	$(TEST_VENV)/bin/pytest
	$(MAKE) test-extension

# The VS Code extension's own tests need Node; a machine without npm skips them, saying so.
test-extension:
	@if command -v npm >/dev/null 2>&1; then \
		cd lsp/vscode && npm ci --no-audit --no-fund --silent && npm test; \
	else \
		echo "npm not found: skipping the VS Code extension's Node tests"; \
	fi

# Builds lsp/vscode/worktally.vsix offline from the locked dependencies.
vsix:
	cd lsp/vscode && npm ci --no-audit --no-fund --silent && npm run package

clean:
	rm -rf $(VENV) $(TEST_VENV)
