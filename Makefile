# Two commands do all set-up on a fresh machine:
#   make run   - create .venv, install pinned dependencies and the bundled models, start the app on 127.0.0.1:7860
#   make test  - the same set-up, plus the test tools, Debian's chromium and a Chinese font (the 简体中文 screenshots),
#                then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup test-setup clean

run: setup
	$(BIN)/python app.py

test: test-setup
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

# torch is installed first and pinned: a newer or unpinned torch pulls several GB of CUDA packages on a CPU box.
$(VENV)/.installed: requirements.txt requirements-bundled.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PIP) install -q -r requirements.txt  # llama-cpp-python builds llama.cpp (minutes)
	$(PIP) install -q --no-deps -r requirements-bundled.txt
	touch $@

test-setup: setup $(VENV)/.test-installed
	@test -x /usr/bin/chromium -a -d /usr/share/fonts/truetype/wqy || { $(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei; }

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-test.txt
	touch $@

clean:
	rm -rf $(VENV)
