from django.db import migrations, models
from django.db.models import Count, Min

ACCEPTED = ["applied", "duplicate"]


def mark_later_repeats_as_replays(apps, schema_editor):
    """Before the index: a signature accepted more than once (two replays racing past
    the old check) keeps its first delivery; the later ones were replays."""
    delivery = apps.get_model("generation", "WebhookDelivery")
    repeated = (
        delivery.objects.filter(outcome__in=ACCEPTED).exclude(signature="")
        .values("signature").annotate(n=Count("pk"), first=Min("pk")).filter(n__gt=1)
    )
    for row in repeated:
        delivery.objects.filter(signature=row["signature"], outcome__in=ACCEPTED).exclude(pk=row["first"]).update(
            outcome="replay", http_status=409
        )


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0010_fallback_and_sent_at'),
    ]

    operations = [
        migrations.RunPython(mark_later_repeats_as_replays, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.UniqueConstraint(condition=models.Q(('outcome__in', ['applied', 'duplicate']), models.Q(('signature', ''), _negated=True)), fields=('signature',), name='webhook_signature_accepted_once'),
        ),
    ]
