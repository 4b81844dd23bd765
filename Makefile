# One command per task. `make test` and `make demo` do all set-up on a fresh Debian
# machine with Python 3.11: venv in .venv, install, build the extension.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALL ?= editable
EXTRAS ?= dev,server,grafana
CXX ?= g++
CXXFLAGS_TEST := -std=c++17 -Wall -Wextra -Werror -Iext/include
STAMP := $(VENV)/.installed-$(INSTALL)
# Every package folder, sub-packages included (a new file changes only its own folder's time).
PACKAGE_DIRS := $(shell find core ingest telephony dashboards -type d -not -name __pycache__)

.PHONY: all venv install mosquitto test pytest cpp-test lint format bench demo clean

all: test

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "hallkpi needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

venv: $(PY)

# Rebuilt when the package definition or the C++ sources change.
# Folders are prerequisites too: strict editable installs only see files present at install.
$(STAMP): $(PY) pyproject.toml setup.py $(wildcard ext/include/hallkpi/*.hpp ext/src/*.cpp ext/src/*.hpp) $(PACKAGE_DIRS)
	@rm -f $(VENV)/.installed-*
ifeq ($(INSTALL),regular)
	$(PY) -m pip install --quiet ".[$(EXTRAS)]"
else
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]" --config-settings editable_mode=strict
endif
	@touch $@

install: $(STAMP)

# The service tests need a real MQTT broker (Debian's Mosquitto; the test fixtures start
# it on a free loopback port). Installed with apt-get when missing.
mosquitto:
	@{ command -v mosquitto || test -x /usr/sbin/mosquitto; } >/dev/null 2>&1 && \
		command -v mosquitto_pub >/dev/null 2>&1 || { \
		echo "installing mosquitto (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients; }

test: install mosquitto
	$(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) cpp-test
	$(MAKE) lint

pytest: install
	$(PY) -m pytest -q

# C++ unit tests with plain g++, no Python, no network: once optimised, once with sanitizers.
cpp-test:
	@mkdir -p ext/build
	set -e; for t in test_engine test_producers; do \
		$(CXX) $(CXXFLAGS_TEST) -O2 ext/tests/$$t.cpp -o ext/build/$$t; ./ext/build/$$t; \
		$(CXX) $(CXXFLAGS_TEST) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
			-fno-sanitize-recover=all ext/tests/$$t.cpp -o ext/build/$${t}_san; \
		./ext/build/$${t}_san; done

cpp-bench:
	@mkdir -p ext/build
	$(CXX) -std=c++17 -O3 -DNDEBUG -Iext/include ext/bench/latency.cpp -o ext/build/latency
	./ext/build/latency

lint: install
	$(VENV)/bin/ruff check core ingest telephony dashboards tests benches setup.py
	$(VENV)/bin/ruff format --check core ingest telephony dashboards tests benches setup.py
	$(VENV)/bin/mypy -p hallkpi.core -p hallkpi.ingest -p hallkpi.telephony -p hallkpi.dashboards
	$(VENV)/bin/clang-format --dry-run --Werror ext/include/hallkpi/*.hpp ext/src/*.cpp ext/src/*.hpp ext/tests/*.cpp ext/tests/*.hpp ext/bench/*.cpp ext/bench/*.hpp

format: install
	$(VENV)/bin/ruff format core ingest telephony dashboards tests benches setup.py
	$(VENV)/bin/ruff check --fix core ingest telephony dashboards tests benches setup.py
	$(VENV)/bin/clang-format -i ext/include/hallkpi/*.hpp ext/src/*.cpp ext/src/*.hpp ext/tests/*.cpp ext/tests/*.hpp ext/bench/*.cpp ext/bench/*.hpp

bench: install
	$(PY) -m pytest benches -q -p no:cacheprovider --benchmark-columns=min,median,ops --benchmark-sort=name
	$(MAKE) cpp-bench

# The main job: a simulated business day of 6 halls and their phone lines in about a minute,
# live on a wall screen, into chDB at ./hallkpi-data/store (cleared each run); then a summary
# and ./hallkpi-data/report.html. MQTT=1: the same day through a local Mosquitto and
# `hallkpi serve`. More options: make demo DEMO_ARGS="--halls 3 --speed 0".
demo: install $(if $(filter 1,$(MQTT)),mosquitto)
	$(VENV)/bin/hallkpi demo --data hallkpi-data $(if $(filter 1,$(MQTT)),--mqtt) $(DEMO_ARGS)
	$(VENV)/bin/hallkpi grafana export hallkpi-data/grafana

clean:
	rm -rf build ext/build *.egg-info $(VENV) hallkpi-data
