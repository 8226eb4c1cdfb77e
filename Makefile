# The README's two commands. Each builds its own virtualenv from scratch, so both work the
# same from a fresh clone as on a machine that ran them before. The demo uses a regular
# install and the tests an editable one, so both install modes stay exercised.

PYTHON ?= python3
VENV ?= .venv
TEST_VENV ?= .venv-test
# What `make demo` runs once installed.
MAIN_CMD ?= demo

.PHONY: demo test typecheck test-extension vsix clean

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
	$(MAKE) typecheck MYPY=$(TEST_VENV)/bin/mypy
	$(TEST_VENV)/bin/pytest
	$(MAKE) test-extension

# mypy must see the code under its import names (worktally.client, ...), or every import
# between the folders is unresolved and unchecked; a throwaway tree of symlinks gives it that.
MYPY ?= mypy
MYPY_TREE = build/mypy-tree
typecheck:
	rm -rf $(MYPY_TREE)
	mkdir -p $(MYPY_TREE)/worktally
	touch $(MYPY_TREE)/worktally/__init__.py
	for part in client lsp aggregator; do ln -s ../../../$$part $(MYPY_TREE)/worktally/$$part; done
	cd $(MYPY_TREE) && $(abspath $(MYPY)) --config-file ../../pyproject.toml -p worktally

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
