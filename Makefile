# `make test` and `make demo` work on a fresh clone: they create .venv when it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint setup clean mutation

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q tests/cuda

demo: $(STAMP)
	$(PY) examples/mlp_digits.py

# Mutation testing (docs/testing.md): the passes, autodiff, the optimizers and the op
# gradient rules, against the tests that do not compile with Numba.
MUTANTS ?= "passes.*" "graphc.autodiff.*" "graphc.train.*" \
	"graphc.ops.*_partials__mutmut_*" "graphc.ops.*_vjp__mutmut_*" "graphc.ops.*_jvp__mutmut_*" \
	"graphc.ops.x_unbroadcast__*" "graphc.ops.reduce.x_keep_dims__*" \
	"graphc.ops.reduce.x__extreme_weights__*" "graphc.ops.reduce.x__prod_of_others__*" \
	"graphc.ops.elementwise.x__mask__*" "graphc.ops.reshape.x_reshape_back__*"
mutation: $(STAMP)
	rm -rf mutants
	CI=true GRAPHC_FUZZ_EXAMPLES=20 $(VENV)/bin/mutmut run $(MUTANTS)
	$(VENV)/bin/mutmut results | grep -v "not checked" > mutation-survivors.txt; \
	wc -l mutation-survivors.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants mutation-survivors.txt
