"""Style presets: named looks a user can pick, one or several, for a job. Each adds a
phrase to the prompt; "none" leaves the prompt as the user wrote it."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

NO_STYLE = "none"


@dataclass(frozen=True)
class StylePreset:
    key: str
    label: str
    prompt_suffix: str


STYLES: tuple[StylePreset, ...] = (
    StylePreset(NO_STYLE, _("No style"), ""),
    StylePreset("cinematic", _("Cinematic"), "cinematic lighting, shallow depth of field, anamorphic film look"),
    StylePreset("anime", _("Anime"), "anime style, cel shading, vibrant colours"),
    StylePreset("watercolour", _("Watercolour"), "soft watercolour painting, paper texture, bleeding pigments"),
    StylePreset("claymation", _("Claymation"), "stop-motion claymation, handmade clay figures"),
    StylePreset("noir", _("Film noir"), "black and white film noir, high contrast, hard shadows"),
    StylePreset("documentary", _("Documentary"), "handheld documentary footage, natural light"),
    StylePreset("retro-neon", _("Retro neon"), "1980s retro neon, synthwave palette, VHS grain"),
)

_BY_KEY = {style.key: style for style in STYLES}


def get_style(key: str) -> StylePreset:
    """The preset with this key; KeyError if we do not offer it."""
    return _BY_KEY[key]


def compose_prompt(prompt: str, style_key: str) -> str:
    """The prompt sent to the model for one style."""
    suffix = get_style(style_key).prompt_suffix
    return f"{prompt}, {suffix}" if suffix else prompt
