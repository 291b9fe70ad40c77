"""What the pipeline tells a user about a video, stored to be read later in the reader's
language.

A task fails in a worker, where nobody's language is active, and its card is read
later, by a person reading English or Korean. So the reason is stored twice: as English
text (`Task.error_message`, for staff, the admin and logs) and as the message's parts
(`Task.error_words`): its msgid, marked for translation where it is written, and its
values. A value may itself be such a message, a model of the catalog (named in the
reader's language) or a list of messages (fal's reasons, field by field). Reading the
parts again in the active language gives the card's text.

    said("The model could not make this video: %(reason)s", reason=...)

`Said` is a `str` (its English text), so code that only passes messages along, logs
them or compares them keeps working unchanged."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext


class Said(str):
    """English text that remembers how to say it again in another language."""

    words: dict

    def __new__(cls, words: dict):
        with translation.override("en"):
            english = _render(words)
        text = super().__new__(cls, english)
        text.words = words
        return text

    def translated(self) -> str:
        """The text in the active language."""
        return _render(self.words)


def said(msgid: str, /, **values: Any) -> Said:
    """A message by its msgid (mark it with gettext_noop where it is written) and values."""
    return Said({"msgid": msgid, "values": {name: _value(value) for name, value in values.items()}})


def said_list(parts: list, separator: str = "; ") -> Said:
    """Messages shown one after the other ("Aspect ratio: …; Duration: …")."""
    return Said({"join": separator, "parts": [_value(part) for part in parts]})


def model_named(key: str) -> Said:
    """A model of the catalog, named in the reader's language."""
    return Said({"model": key})


def words_of(message: str) -> dict:
    """The parts to store beside a message's English text ({} for plain text)."""
    return message.words if isinstance(message, Said) else {}


def text_of(words: dict, english: str = "") -> str:
    """A stored message in the active language. With no parts stored (a message
    written before they were), the English text is looked up as a msgid: our own
    fixed messages are found, anything else is shown as it was stored."""
    if not words:
        return gettext(english) if english else ""
    try:
        return _render(words)
    except (KeyError, TypeError, ValueError):
        return gettext(english) if english else ""


def _value(value: Any) -> Any:
    if isinstance(value, Said):
        return value.words
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def _render(words: Any) -> str:
    if not isinstance(words, dict):
        return str(words)
    if "msgid" in words:
        # gettext("") would answer the catalog's header.
        text = gettext(words["msgid"]) if words["msgid"] else ""
        values = words.get("values") or {}
        if values:
            text = text % {name: _render(value) for name, value in values.items()}
        return text[:1].upper() + text[1:] if words.get("capitalize") else text
    if "join" in words:
        return words["join"].join(_render(part) for part in words.get("parts", []))
    if "model" in words:
        from generation.catalog import get_model

        try:
            return str(get_model(words["model"]).label)
        except KeyError:
            return words["model"]
    raise ValueError(f"not a stored message: {words!r}")
