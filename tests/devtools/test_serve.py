"""What `make run` starts (devtools/serve.py)."""

from devtools.serve import build_plan, load_config


def test_make_run_prunes_old_webhook_deliveries_on_a_schedule_beside_the_reconciler():
    _, rest = build_plan(load_config({"FAL_KEY": ""}))
    commands = {spec.name: spec.argv[1:] for spec in rest}
    assert commands["reconcile"][:2] == ("manage.py", "reconcile")
    assert commands["prune"][:3] == ("manage.py", "prune_deliveries", "--every")
    assert float(commands["prune"][3]) > 0
