import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext


class PixelArtStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Making frames")
    COMPLETED = "completed", _("Done")
    FAILED = "failed", _("Failed")


class PixelArt(models.Model):
    """Pixel-art frames made from one finished video with one set of settings.

    `settings_key` names the settings and the exact source file, so asking again for
    the same thing finds this row (the unique constraint makes that hold under races);
    a failed one steps aside and a new request makes a fresh attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pixel_arts", verbose_name=_("user"))
    source = models.ForeignKey("history.HistoryItem", on_delete=models.CASCADE, related_name="pixel_arts", verbose_name=_("source"))
    options = models.JSONField(help_text=_("The validated settings (pixelart.render.Options)."), verbose_name=_("options"))
    settings_key = models.CharField(max_length=64, verbose_name=_("settings key"))
    status = models.CharField(max_length=16, choices=PixelArtStatus.choices, default=PixelArtStatus.PENDING, verbose_name=_("status"))
    progress = models.PositiveSmallIntegerField(default=0, verbose_name=_("progress"))
    error_message = models.CharField(max_length=500, blank=True, verbose_name=_("error message"))
    error_detail = models.TextField(blank=True, help_text=_("For staff: what went wrong, in full."), verbose_name=_("error detail"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))

    frame_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("frame count"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    colors = models.PositiveIntegerField(null=True, blank=True, help_text=_("Colours in the palette (transparency not counted)."), verbose_name=_("colors"))
    frame_durations = models.JSONField(default=list, blank=True, help_text=_("Milliseconds per frame."), verbose_name=_("frame durations"))
    sprite_sheet = models.FileField(upload_to="pixelart/", max_length=255, blank=True, verbose_name=_("sprite sheet"))
    sheet_json = models.FileField(upload_to="pixelart/", max_length=255, blank=True, verbose_name=_("sheet JSON"))
    gif = models.FileField(upload_to="pixelart/", max_length=255, blank=True, verbose_name=_("GIF"))
    frames_zip = models.FileField(upload_to="pixelart/", max_length=255, blank=True, verbose_name=_("frames ZIP"))

    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "settings_key"],
                condition=~Q(status="failed"),
                name="pixelart_one_live_result_per_settings",
            )
        ]
        verbose_name = _("pixel art")
        verbose_name_plural = _("pixel art")

    def __str__(self) -> str:
        return gettext("Pixel art %(id)s") % {"id": str(self.id)[:8]}

    @property
    def error_text(self) -> str:
        """The error in the reader's language: stored in English (see RenderError)."""
        return gettext(self.error_message) if self.error_message else ""

    @property
    def is_finished(self) -> bool:
        return self.status in (PixelArtStatus.COMPLETED, PixelArtStatus.FAILED)

    def download_name(self, name: str) -> str:
        """The name a file is downloaded under: "sprite-sheet.png" ->
        "pixel-art-1a2b3c4d-sprite-sheet.png", so several from one video do not
        overwrite each other in a downloads folder (and the JSON names its sheet so)."""
        return f"pixel-art-{str(self.pk)[:8]}-{name}"

    def files(self) -> list:
        return [f for f in (self.sprite_sheet, self.sheet_json, self.gif, self.frames_zip) if f]

    # How large the detail page shows it: about this many pixels on the longer side.
    DISPLAY_SIDE = 96

    @property
    def display_scale(self) -> float:
        return self.DISPLAY_SIDE / max(self.width or 1, self.height or 1)

    @property
    def preview_width(self) -> int:
        return round((self.width or 0) * self.display_scale * 2)

    def cells(self) -> list[dict]:
        """Where each frame sits on the sheet, scaled for display (CSS sprites: the page
        loads the sheet once instead of one image per frame)."""
        from pixelart.render import sheet_layout

        if not self.frame_count:
            return []
        columns, _ = sheet_layout(self.frame_count, self.width, self.height)
        s = self.display_scale
        return [
            {
                "index": n,
                "number": n + 1,
                "x": round((n % columns) * self.width * s, 2),
                "y": round((n // columns) * self.height * s, 2),
                "w": round(self.width * s, 2),
                "h": round(self.height * s, 2),
                "sheet_w": round(columns * self.width * s, 2),
            }
            for n in range(self.frame_count)
        ]

    def describe(self) -> str:
        """The settings in a line, as a person would say them."""
        o = self.options
        fits = {"crop": pgettext("pixel-art fit", "crop"), "pad": pgettext("pixel-art fit", "pad")}
        if o.get("width"):
            size = gettext("%(width)s px wide") % {"width": o["width"]}
        else:
            size = f"{o['size']}×{o['size']} ({fits.get(o['fit'], o['fit'])})"
        if o["palette"] == "adaptive":
            palette = ngettext("%(count)s colour", "%(count)s colours", o["colors"]) % {"count": o["colors"]}
        else:
            palette = o["palette"]
        frames = ngettext("%(count)s frame", "%(count)s frames", o["frames"]) % {"count": o["frames"]} if o.get("frames") else ""
        if o.get("fps"):
            rate = gettext("%(frames)s at %(fps)s fps") % {"frames": frames, "fps": o["fps"]} if frames else f"{o['fps']} fps"
        else:
            rate = frames or "8 fps"
        extras = [
            x
            for x in (gettext("dithered") if o["dither"] != "none" else "", gettext("transparent") if o["transparent"] else "")
            if x
        ]
        return " · ".join([size, palette, rate, *extras])


class LastFrame(models.Model):
    """A finished video's last frame as a PNG, for "Use the last frame as input
    image". Decoding the end of a video is a worker's job, not a web request's: the
    page asks for it, a worker takes it, and the Generate page then only reads a
    small stored image. One per video file (`video_key`, as for pixel art), so a
    re-downloaded video with other bytes gets its own."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    source = models.ForeignKey("history.HistoryItem", on_delete=models.CASCADE, related_name="last_frames", verbose_name=_("source"))
    video_key = models.CharField(max_length=255, help_text=_("The video file it is taken from (its SHA-256, else its name)."), verbose_name=_("video key"))
    status = models.CharField(max_length=16, choices=PixelArtStatus.choices, default=PixelArtStatus.PENDING, verbose_name=_("status"))
    image = models.FileField(upload_to="pixelart/", max_length=255, blank=True, verbose_name=_("image"))
    error_message = models.CharField(max_length=500, blank=True, verbose_name=_("error message"))
    error_detail = models.TextField(blank=True, help_text=_("For staff: what went wrong, in full."), verbose_name=_("error detail"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "video_key"], name="pixelart_one_last_frame_per_video")]
        verbose_name = _("last frame")
        verbose_name_plural = _("last frames")

    def __str__(self) -> str:
        return gettext("Last frame %(id)s") % {"id": str(self.id)[:8]}

    @property
    def error_text(self) -> str:
        """The error in the reader's language: stored in English (see RenderError)."""
        return gettext(self.error_message) if self.error_message else ""

