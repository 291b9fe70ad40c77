import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from videoplanet.private_media import download_name


class HistoryItem(models.Model):
    """A card in the user's gallery: the video one task made (or is making).

    The status shown on the card is the task's; this row holds what the user keeps:
    the stored file, its poster and what we measured of it. A manual retry points the
    item at the new attempt, so the card the user pressed Retry on is the one that
    comes back to life; the failed attempt stays on record in the job.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="history_items")
    task = models.OneToOneField("generation.Task", on_delete=models.CASCADE, related_name="history_item")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    video = models.FileField(upload_to="videos/", max_length=255, blank=True)
    poster = models.FileField(upload_to="posters/", max_length=255, blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)

    favourite = models.BooleanField(default=False)
    # The stars of this card's Rating (0 while unrated), copied by
    # history.services.rate_item so that the gallery's "best rated" order is an
    # index's order (a join to the ratings would sort the whole history for every
    # page); 0 sorts the unrated last without NULLS LAST, which SQLite's indexes lack.
    stars = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user", "-stars", "-created_at", "-id"], name="item_user_best_rated"),
            models.Index(fields=["user", "-created_at"], condition=Q(favourite=True), name="item_user_favourites"),
        ]

    def __str__(self) -> str:
        return f"History item {str(self.id)[:8]}"

    @property
    def job(self):
        return self.task.job

    # Files are private: pages and the API link to the view that checks who asks.
    @property
    def video_url(self) -> str:
        return reverse("history:video", args=[self.pk]) if self.video else ""

    @property
    def poster_url(self) -> str:
        return reverse("history:poster", args=[self.pk]) if self.poster else ""

    @property
    def input_image_url(self) -> str:
        return reverse("history:input", args=[self.pk]) if self.task.job.input_image else ""

    @property
    def end_image_url(self) -> str:
        return reverse("history:end-image", args=[self.pk]) if self.task.job.input_end_image else ""

    def private_file(self, kind: str):
        """(file, download name) of this card's video, poster or input image, or None."""
        prompt = self.task.job.prompt
        if kind == "video" and self.video:
            return self.video, download_name(prompt, suffix=_suffix(self.video.name, ".mp4"))
        if kind == "poster" and self.poster:
            return self.poster, download_name(prompt, suffix="-poster" + _suffix(self.poster.name, ".jpg"))
        if kind == "input" and self.task.job.input_image:
            image = self.task.job.input_image
            return image, download_name(prompt, suffix="-input" + _suffix(image.name, ".png"))
        if kind == "end" and self.task.job.input_end_image:
            image = self.task.job.input_end_image
            return image, download_name(prompt, suffix="-last-frame" + _suffix(image.name, ".png"))
        return None


def _suffix(name: str, default: str) -> str:
    return PurePosixPath(name).suffix.lower() or default


class Rating(models.Model):
    """The owner's verdict on a card's video: 1 to 5 stars and an optional note.
    One per card; rating again replaces it."""

    item = models.OneToOneField(HistoryItem, on_delete=models.CASCADE, related_name="rating")
    stars = models.PositiveSmallIntegerField()
    note = models.TextField(max_length=1000, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5")]

    def __str__(self) -> str:
        return f"{self.stars}★ on {self.item}"
