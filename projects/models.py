import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Project(models.Model):
    """A user's album of videos, kept in ordered slots."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])


class Slot(models.Model):
    """Place `position` of a project; empty until a video is put there. A video may
    sit in several projects (a copy is a second slot, not a second file), but only
    once in each."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveIntegerField()
    # A deleted card leaves its slot free rather than closing the gap: the order the
    # user chose for the others stays as it was.
    item = models.ForeignKey("history.HistoryItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="slots")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "position"], name="slot_position_unique"),
            models.UniqueConstraint(
                fields=["project", "item"], condition=models.Q(item__isnull=False), name="slot_item_once_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} #{self.position + 1}"
