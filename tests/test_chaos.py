"""A small chaos round, run the way an operator runs it: `python -m devtools chaos` in its own
process against a fresh database, with random faults and a worker killed mid-run."""

import os
import re
import subprocess
import sys

import pytest

from devtools.localstack import fresh_database
from devtools.processes import ROOT
from tests.stack import TEMPLATE

pytestmark = pytest.mark.e2e


def test_a_small_chaos_round_loses_nothing_and_pays_nothing_twice(tmp_path):
    with fresh_database(tmp_path, template=TEMPLATE) as database_url:  # migrated
        env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
        run = subprocess.run(
            [sys.executable, "-m", "devtools", "chaos", "--jobs", "12", "--seed", "7", "--kill-every", "4", "--timeout", "240"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
    output = run.stdout + run.stderr
    last = [line for line in run.stdout.splitlines() if line.startswith("chaos: jobs=")]
    assert last, output
    numbers = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", last[-1]))
    assert numbers["jobs"] == 12 and numbers["completed"] + numbers["failed"] == 12, output
    assert (numbers["lost"], numbers["duplicate_submissions"], numbers["orphan_files"]) == (0, 0, 0), output
    assert "killed worker" in output
    assert run.returncode == 0, output
    print("\n" + last[-1])
