from django.db import migrations, models
from django.db.models import F


def schedule_waiting_tasks(apps, schema_editor):
    # Tasks already at the provider get their first overdue check at once.
    Task = apps.get_model("generation", "Task")
    Task.objects.filter(status__in=["queued", "in_progress"]).update(poll_after=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [("generation", "0006_job_user_newest")]

    operations = [
        migrations.AddField(
            model_name="task", name="poll_after", field=models.DateTimeField(blank=True, db_index=True, null=True)
        ),
        migrations.AddField(model_name="task", name="watched_until", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="task", name="status_polls", field=models.PositiveIntegerField(default=0)),
        migrations.RunPython(schedule_waiting_tasks, migrations.RunPython.noop),
    ]
