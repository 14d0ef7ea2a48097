# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the full suite).
.PHONY: demo test bench lint

demo:
	scripts/demo

test:
	scripts/test

bench:
	scripts/bootstrap --all-extras --group dev >/dev/null
	.venv/bin/python benchmarks/db_bulk_insert.py
	.venv/bin/python benchmarks/import_results.py
	.venv/bin/python benchmarks/cloud_requests.py

lint:
	scripts/bootstrap --all-extras --group dev >/dev/null
	.venv/bin/ruff check src tests benchmarks
