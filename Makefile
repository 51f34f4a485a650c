# kerrfield: everything a fresh Debian 12 / Python 3.11 machine needs, from two commands:
#   make demo   -> .venv, install, run the demo (ray trace + fit), outputs in demo-output/
#   make test   -> .venv, install, whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# A torch that is already installed (system site-packages) is reused; otherwise this pinned
# CPU-capable build is installed. Override e.g. TORCH_SPEC="torch==2.14.1" on another machine.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv install demo test lint docs bench bench-backends julia clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,docs]"
	touch $@

venv install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/kerrfield demo --output demo-output

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check kerrfield tests benchmarks scripts

docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
	$(PY) scripts/check_notebook_outputs.py docs/_build

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_raytrace.py

bench-backends: $(VENV)/.installed
	$(PY) benchmarks/bench_backends.py

julia:
	bash scripts/install-julia.sh

clean:
	rm -rf $(VENV) docs/_build demo-output .pytest_cache
