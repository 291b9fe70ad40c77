"""Finding English left on a page that should be Korean: the text a person reads or
hears (visible text, and the attributes read out or shown: aria-label, title, alt,
placeholder, button values, confirmations), without scripts and styles, searched for
runs of two or more English words once the names that stay English are taken out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Names that stay as they are in every language (the style guide): the product, the
# provider, the models (their names; what they do is translated), palettes and tools
# named after products, file formats, units.
ALLOWED = [
    "VideoPlanet", "fal.ai", "fal", "Kling", "Veo", "Seedance", "Standard", "Master", "Pro", "Fast",
    "Game Boy", "Aseprite", "MP4", "PNG", "GIF", "ZIP", "JSON", "API", "URL", "UTC", "HTTP", "OK",
]
READ_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "aria-description", "data-confirm"}
WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ \t\u00a0]+[A-Za-z][A-Za-z'’-]*)+")


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skipping += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if value and (name in READ_ATTRIBUTES or name.startswith("data-label") or name.endswith("-text")):
                self.parts.append(value)
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])
        if tag == "template" and attributes:  # status words kept on a <template> for scripts
            self.parts.extend(v for k, v in attrs if k.startswith("data-") and v)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def readable_text(html: str) -> list[str]:
    reader = _Reader()
    reader.feed(html)
    return [" ".join(part.split()) for part in reader.parts if part.strip()]


def english_phrases(html: str, *, also_allowed: tuple[str, ...] = ()) -> list[str]:
    """Runs of two or more English words a person would meet on the page."""
    allowed = sorted([*ALLOWED, *also_allowed], key=len, reverse=True)
    found = []
    for text in readable_text(html):
        for name in allowed:
            text = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " · ", text)
        found.extend(match.group(0) for match in WORDS.finditer(text))
    return sorted(set(found))
