from django.db import migrations, models
from django.db.models import Q


def copy_stars(apps, schema_editor):
    """Cards rated before the copy existed get their stars."""
    Rating = apps.get_model("history", "Rating")
    HistoryItem = apps.get_model("history", "HistoryItem")
    for item_id, stars in Rating.objects.values_list("item_id", "stars").iterator():
        HistoryItem.objects.filter(pk=item_id).update(stars=stars)


def add_prompt_search_index(apps, schema_editor):
    """The gallery's prompt search (history.selectors.search_prompts) on PostgreSQL:
    a GIN index on the prompts' English text-search vector, built from the same
    expression the search uses so that the planner can answer it from the index.
    Other databases search with a plain match and get no index."""
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    Job = apps.get_model("generation", "Job")
    schema_editor.add_index(Job, GinIndex(SearchVector("prompt", config="english"), name="job_prompt_search"))


def remove_prompt_search_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS job_prompt_search")


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0002_rating"),
        ("generation", "0009_request_key_and_download_time"),
    ]

    operations = [
        migrations.AddField(model_name="historyitem", name="favourite", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="historyitem",
            name="stars",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name="historyitem",
            index=models.Index(fields=["user", "-stars", "-created_at", "-id"], name="item_user_best_rated"),
        ),
        migrations.AddIndex(
            model_name="historyitem",
            index=models.Index(
                fields=["user", "-created_at"], condition=Q(favourite=True), name="item_user_favourites"
            ),
        ),
        migrations.RunPython(copy_stars, migrations.RunPython.noop),
        migrations.RunPython(add_prompt_search_index, remove_prompt_search_index),
    ]
