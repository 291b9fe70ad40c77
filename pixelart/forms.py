"""What a pixel-art request may ask for. The page and the JSON API both validate with
this form, against the video it is for (its length bounds the time range)."""

from __future__ import annotations

from django import forms
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from history.models import HistoryItem
from pixelart.palettes import ADAPTIVE, PALETTE_CHOICES, PALETTES
from pixelart.render import DEFAULT_FPS, MAX_FPS, MAX_FRAMES, SIZE_PRESETS, Options, plan_frames

DEFAULT_SIZE = 64
DEFAULT_COLORS = 16


class PixelArtForm(forms.Form):
    size = forms.TypedChoiceField(
        choices=[("", gettext_lazy("Keep the video's shape (set a width)"))] + [(s, f"{s} × {s}") for s in SIZE_PRESETS],
        coerce=int,
        empty_value=None,
        required=False,
        initial=DEFAULT_SIZE,
        label=gettext_lazy("Size"),
        help_text=gettext_lazy("Square frames of this side, in pixels."),
    )
    width = forms.IntegerField(
        min_value=16, max_value=256, required=False, label=gettext_lazy("Width"),
        help_text=gettext_lazy("Or: frames this wide with the video's aspect ratio (16–256)."),
    )
    fit = forms.ChoiceField(
        choices=[("crop", gettext_lazy("Crop to the centre")), ("pad", gettext_lazy("Fit inside, pad the rest"))],
        initial="crop",
        required=False,
        widget=forms.RadioSelect,
        label=gettext_lazy("Fit"),
        help_text=gettext_lazy("How a video that is not square becomes a square."),
    )
    start = forms.FloatField(min_value=0, required=False, initial=0, label=gettext_lazy("From (seconds)"))
    end = forms.FloatField(
        min_value=0, required=False, label=gettext_lazy("To (seconds)"), help_text=gettext_lazy("Empty: the end of the video.")
    )
    fps = forms.IntegerField(
        min_value=1, max_value=MAX_FPS, required=False, label=gettext_lazy("Frames per second"),
        help_text=format_lazy(
            gettext_lazy("Takes a frame every 1/fps seconds and plays at that rate. Empty: {fps}, unless a frame count is set."),
            fps=DEFAULT_FPS,
        ),
    )
    frames = forms.IntegerField(
        min_value=1, max_value=MAX_FRAMES, required=False, label=gettext_lazy("Number of frames"),
        help_text=gettext_lazy("Alone: spread evenly over the range. With frames per second: that many, from the start."),
    )
    palette = forms.ChoiceField(choices=PALETTE_CHOICES, initial=ADAPTIVE, required=False, label=gettext_lazy("Palette"))
    colors = forms.IntegerField(
        min_value=2, max_value=256, required=False, initial=DEFAULT_COLORS, label=gettext_lazy("Colours"),
        help_text=gettext_lazy("For the adaptive palette: at most this many (2–256)."),
    )
    dither = forms.ChoiceField(
        choices=[("none", gettext_lazy("None (flat areas)")), ("floyd-steinberg", "Floyd–Steinberg")],
        initial="none",
        required=False,
        label=gettext_lazy("Dither"),
    )
    transparent = forms.BooleanField(
        required=False,
        label=gettext_lazy("Transparent background"),
        help_text=gettext_lazy("The colour around the edges becomes transparent (and so does padding)."),
    )
    layout = forms.ChoiceField(
        choices=[("hash", gettext_lazy("Hash (frames by name)")), ("array", gettext_lazy("Array"))],
        initial="hash",
        required=False,
        label=gettext_lazy("Sheet JSON"),
        help_text=gettext_lazy("Both are the Aseprite / TexturePacker layout; engines read either."),
    )

    def __init__(self, *args, source: HistoryItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        self.options: Options | None = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        size, width = data.get("size"), data.get("width")
        if size and width:
            self.add_error("width", _("Choose a square size or a width, not both."))
        if not size and not width:
            size = DEFAULT_SIZE
        palette = data.get("palette") or ADAPTIVE
        colors = data.get("colors")
        if palette in PALETTES:
            fixed = len(PALETTES[palette].colours)
            if colors is not None and colors < fixed:
                self.add_error(
                    "colors",
                    _("%(palette)s has %(count)s colours; leave colours empty or choose the adaptive palette.")
                    % {"palette": PALETTES[palette].label, "count": fixed},
                )
            colors = fixed
        else:
            colors = colors or DEFAULT_COLORS
        start = data.get("start") or 0.0
        end = data.get("end")
        duration = self.source.duration_seconds or 0.0
        if start >= duration:
            self.add_error(
                "start",
                _("The video is %(seconds)s s long; start before that.") % {"seconds": number_format(duration, 1)},
            )
        elif end is not None and end <= start:
            self.add_error("end", _("The end must come after the start."))
        if end is not None and end >= duration:
            end = None  # to the end: the same result as leaving it empty
        if self.errors:
            return data
        fps, frames = data.get("fps"), data.get("frames")
        plan = plan_frames(start=start, end=end, fps=fps, frames=frames, duration=duration)
        if plan.count > MAX_FRAMES:
            self.add_error(
                "fps",
                _("That makes %(count)s frames; at most %(most)s. Choose fewer frames per second or a shorter range.")
                % {"count": plan.count, "most": MAX_FRAMES},
            )
        elif plan.fps > MAX_FPS + 1e-6:
            self.add_error(
                "frames",
                ngettext(
                    "%(frames)s frame over %(seconds)s s plays at more than %(most)s per second; choose fewer or a longer range.",
                    "%(frames)s frames over %(seconds)s s play at more than %(most)s per second; choose fewer or a longer range.",
                    frames,
                )
                % {"frames": frames, "seconds": number_format(plan.count * plan.frame_seconds, 2), "most": MAX_FPS},
            )
        if self.errors:
            return data
        self.options = Options(
            size=None if width else size,
            width=width,
            fit="crop" if width else (data.get("fit") or "crop"),  # only a square is fitted
            start=round(start, 3),
            end=round(end, 3) if end is not None else None,
            fps=fps,
            frames=frames,
            palette=palette,
            colors=colors,
            dither=data.get("dither") or "none",
            transparent=bool(data.get("transparent")),
            layout=data.get("layout") or "hash",
        )
        return data
