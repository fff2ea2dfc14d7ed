# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - installs into .venv and trains + samples a GAN on built-in Gaussian data
#   make test   - installs the dev extra into .venv and runs the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/nsgan_gaussian.yaml

# No pip cache: the .venv is 5.9 GB (torch with its CUDA libraries); a cached copy of its wheels would add GBs more.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m gan_lightning fit --config $(CONFIG) --run_name demo-$$(date +%Y%m%d-%H%M%S)
	$(PY) -m gan_lightning sample --ckpt_path last --num_samples 2000 --output runs/demo-samples.png

test: install
	$(PY) -m pytest -q -n auto --durations=15

.PHONY: install demo test
