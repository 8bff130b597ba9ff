"""The benchmark: drivers (`run.py` and one script per cloud) and the measured steps they spawn.

A package so that each measured step is a real module, run as `python -m bench.steps.<name>`.
"""
