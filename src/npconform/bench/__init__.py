"""Benchmarks on one cluster, in one run: start-up, matrix evaluation against a
one-exec-per-probe baseline, policy convergence, the whole suite with -n 1 and -n 2, and
peak memory. Writes benchmarks/results.json and benchmarks/README.md."""
