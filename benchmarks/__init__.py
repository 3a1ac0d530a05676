"""Benchmarks of rendered projects (commands, not tests: see README.md, "Benchmark")."""
