"""Django app holding the benchmark model (used only by benchmarks/run.py)."""
