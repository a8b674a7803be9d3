# Two commands do all the set-up on a fresh machine with Python 3.12:
#   make reproduce   creates .venv, installs, runs the main job
#   make test        creates .venv if needed, installs the dev extras, runs ruff and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: setup lock reproduce test lint chromium clean validate recalibrate

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12 or newer is needed (see .python-version)"'
	$(PYTHON) -m venv $(VENV)

# The versions are constraints.txt's (the numbers depend on them; its header says why).
# The test of CITATION.cff reads the CFF 1.2.0 schema that cffconvert ships; only the schema
# file is used, so cffconvert's code and its old pins (jsonschema<4) are not installed.
# pip byte-compiles every file it installs, one at a time, the packages' own test suites
# included (37 of the install's 65 seconds here); compileall does the same on all cores
# and skips the packages' folders named test or tests, which nothing imports (16 seconds;
# with -q it prints only what fails to compile). The .pyc files are needed where
# PYTHONDONTWRITEBYTECODE is set: imports then never write them.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt --no-deps cffconvert==2.0.0
	$(BIN)/python -m compileall -q -j 0 -x '/site-packages/.+/tests?/' \
	  "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	touch $@

setup: $(STAMP)

# Rewrite constraints.txt's pins from what is installed in .venv, keeping its header (to
# move a pin, install the new version there first); the stamp is then as new as the lock.
lock: setup
	{ grep '^#' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } \
	  > .constraints.txt.tmp
	mv .constraints.txt.tmp constraints.txt
	touch $(STAMP)

# Debian's chromium for the browser test; the test skips with a reason where it cannot be had.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  { (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	    echo "chromium could not be installed: the browser test will be skipped"; }

# The calibrated scenarios (posterior draws, no recalibration), their comparison with the
# article's figures, the shipped policy experiments and the studies of NGO survival by
# age and by density.
reproduce: setup
	$(BIN)/ngo-abm compare scenarios/kyrgyzstan.yaml --params posterior --replicates 20 --workers 2 --out $(OUT)/kyrgyzstan
	$(BIN)/ngo-abm compare scenarios/kazakhstan.yaml --params posterior --replicates 20 --workers 2 --out $(OUT)/kazakhstan
	$(BIN)/ngo-abm compare scenarios/uzbekistan.yaml --params posterior --replicates 20 --workers 2 --out $(OUT)/uzbekistan
	for f in experiments/*.yaml; do \
	  $(BIN)/ngo-abm experiment $$f --workers 2 --out $(OUT)/experiments/$$(basename $$f .yaml) || exit 1; \
	done
	for f in experiments/regional/*.yaml; do \
	  $(BIN)/ngo-abm regional-experiment $$f --workers 2 --out $(OUT)/experiments/$$(basename $$f .yaml) || exit 1; \
	done
	for c in kyrgyzstan kazakhstan uzbekistan; do \
	  $(BIN)/python -m experiments.age_hazards --scenario scenarios/$$c.yaml --workers 2 --out $(OUT)/age_hazards/$$c.csv || exit 1; \
	  $(BIN)/python -m experiments.density_hazards --scenario scenarios/$$c.yaml --workers 2 --out $(OUT)/density_hazards/$$c.csv || exit 1; \
	done

# The checks of the committed calibration (docs/calibration.md, "Validation"); needs the
# tables that `make recalibrate` draws (about an hour and a quarter on 2 cores; they are not committed).
validate: setup
	$(BIN)/ngo-abm validate --workers 2
	$(BIN)/python -m experiments.local_coverage --workers 2

# The whole committed calibration from nothing (docs/calibration.md, "Commands"): the
# prior's reference table, eight truncated rounds of the main estimator (the last two at
# level 0.9) and three of the held-back one (the last at level 0.9), then the report, the
# screen of the assumed inputs, the validation, the chains check and the regional layer.
# It rewrites the committed posterior, estimators and reports. Start with calibration/runs/ moved away; a
# failing step stops the rest, and a stopped run is resumed from its step by hand.
recalibrate: setup
	$(BIN)/ngo-abm reference --rows 10600 --workers 2
	$(BIN)/ngo-abm calibrate npe --rows 10200
	$(BIN)/ngo-abm reference --truncate main --rows 5200 --workers 2
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000
	$(BIN)/ngo-abm reference --truncate main --round 2 --rows 3000 --workers 2
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800
	$(BIN)/ngo-abm reference --truncate main --round 3 --rows 3000 --workers 2
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800
	$(BIN)/ngo-abm reference --truncate main --round 4 --rows 3000 --workers 2
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800 2800
	$(BIN)/ngo-abm reference --truncate main --round 5 --rows 3000 --workers 2 --sampler mcmc
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800 2800 2800
	$(BIN)/ngo-abm reference --truncate main --round 6 --rows 3000 --workers 2 --sampler mcmc
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800 2800 2800 2800
	$(BIN)/ngo-abm reference --truncate main --round 7 --rows 3000 --workers 2 --sampler mcmc --eps 0.1
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800 2800 2800 2800 2800
	$(BIN)/ngo-abm reference --truncate main --round 8 --rows 3000 --workers 2 --sampler mcmc --eps 0.1
	$(BIN)/ngo-abm calibrate npe --rows 10200 --truncated-rows 5000 2800 2800 2800 2800 2800 2800 2800
	$(BIN)/ngo-abm calibrate npe --holdout --rows 10200
	$(BIN)/ngo-abm reference --truncate holdout --rows 3200 --workers 2
	$(BIN)/ngo-abm calibrate npe --holdout --rows 10200 --truncated-rows 3200
	$(BIN)/ngo-abm reference --truncate holdout --round 2 --rows 2000 --workers 2
	$(BIN)/ngo-abm calibrate npe --holdout --rows 10200 --truncated-rows 3200 2000
	$(BIN)/ngo-abm reference --truncate holdout --round 3 --rows 2000 --workers 2 --sampler mcmc --eps 0.1
	$(BIN)/ngo-abm calibrate npe --holdout --rows 10200 --truncated-rows 3200 2000 2000
	$(BIN)/ngo-abm calibrate report --workers 2
	$(BIN)/python -m experiments.input_screen --workers 2
	$(BIN)/python -m experiments.input_screen --workers 2 --holdout
	$(BIN)/ngo-abm validate --workers 2
	$(BIN)/python -m experiments.local_coverage --workers 2
	$(BIN)/ngo-abm chains --workers 2
	$(BIN)/ngo-abm calibrate regional --draws 2400 --workers 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
