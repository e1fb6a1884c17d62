"""Benchmarks of datawharf against the tools its users would pick instead (issue 8).

Run everything with ``python -m bench.run``; see ``bench/README.md``.
"""
