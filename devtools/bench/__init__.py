"""The benchmark suite (`make bench`): each figure is measured beside a baseline taken
in the same run on the same machine, and printed as a ratio. Nothing here asserts a
time; the suite prints figures for a person to read.

Each section runs in a process of its own against a fresh database of the configured
kind (PostgreSQL when DATABASE_URL names it), created and dropped by the run."""
