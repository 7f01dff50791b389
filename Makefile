# One command sets up and runs the demo; one sets up and runs the tests (see README).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test browser ui bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/ntm demo

# Two processes, a test file each at a time (a file's fixtures stay in one process): the runs of
# the pipeline the tests make leave a core idle much of the time (README, "Two commands").
test: setup browser
	$(BIN)/pytest -q -n 2 --dist loadfile

# Headless Chromium for the progress report's offline-rendering test (tests/test_progress.py).
# Installed from Debian when missing and running as root; otherwise that test skips, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
	  echo "chromium not installed: the browser test will skip"; }

# The Dagster UI on http://127.0.0.1:3000 (localhost only), over the default home ./data.
ui: setup
	mkdir -p .dagster_home && cp -n dagster.yaml .dagster_home/ 2>/dev/null || true
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .dagster_home
