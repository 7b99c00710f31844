# The two commands from the README, plus conveniences. Windows without make:
#   py scripts\dev.py run    /    py scripts\dev.py test
PYTHON ?= python3
# Run environments two at a time by default; `make test TOX_ARGS="-e cache-py311-dj52-sqlite"` runs one.
TOX_ARGS ?= -p 2 --parallel-no-spinner

.PHONY: run test lint clean

run:  ## the example project on SQLite + file cache + filesystem broker, at http://127.0.0.1:8000/
	$(PYTHON) scripts/dev.py run

test:  ## the whole test suite: tox's default environments
	$(PYTHON) scripts/dev.py test $(TOX_ARGS)

lint:
	$(PYTHON) scripts/dev.py test -e lint,type

clean:
	rm -rf .venv .venv-tox .tox example_project/var .coverage .coverage.* coverage.xml
