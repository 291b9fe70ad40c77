"""Machinery for running VideoPlanet locally and testing it: the process descriptions,
the console supervisor behind `make run`, the local stack of separate processes used by
the end-to-end tests, the chaos run and the benchmarks, and a stand-in for fal's
webhook signing. Production code never imports this package."""
