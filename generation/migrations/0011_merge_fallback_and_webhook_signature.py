# The fallback and the webhook-signature migrations were made side by side from 0009.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0010_fallback_and_sent_at'),
        ('generation', '0010_webhook_signature_accepted_once'),
    ]

    operations = [
    ]
