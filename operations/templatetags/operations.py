from django import template

from operations.alerts import RULE_LABELS, summary_of
from operations.selectors import open_incidents

register = template.Library()


@register.inclusion_tag("admin/operations/_alerts_banner.html")
def open_alerts_banner() -> dict:
    """Every open alert, at the top of every admin page, until it is resolved."""
    incidents = open_incidents()
    return {"alerts": [(RULE_LABELS.get(i.rule, i.rule), summary_of(i), i) for i in incidents]}
