"""Compile the translation catalogs: every ``locale/<lang>/LC_MESSAGES/*.po`` becomes the
``.mo`` beside it when the ``.mo`` is missing or older.

Django's ``compilemessages`` needs GNU gettext's ``msgfmt`` on the machine; polib writes
the same binary catalog in pure Python, so ``make run`` and ``make test`` work on a fresh
machine with nothing more than the project's requirements. (Extracting strings with
``makemessages`` still uses gettext; that is a developer's step, see the README.)

    python -m devtools.messages            # compile what changed
    python -m devtools.messages --force    # compile everything
    python -m devtools.messages --extract  # re-extract the strings into the .po files
                                           # (GNU gettext's xgettext), then compile
"""

import os
import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ["ko"]  # every language but the source language (English)
# Not the product's words: the tests, developer tools, the stand-in for fal (which speaks
# fal's English), and installed or generated files.
IGNORE = [".venv", "venv", "tests", "devtools", "falsandbox", "staticfiles", "media", "var", "htmlcov"]


def extract() -> None:
    """Re-extract every marked string (Python, templates, JavaScript) into the catalogs,
    keeping the translations already made and dropping the strings no longer used."""
    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")
    django.setup()
    for domain in ("django", "djangojs"):
        call_command(
            "makemessages", locale=LANGUAGES, domain=domain, ignore_patterns=IGNORE,
            no_obsolete=True, verbosity=0,
        )


def compile_catalogs(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Compile the stale catalogs under ``locale_dir``; returns the ``.mo`` files written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        # Fuzzy entries are guesses that nobody checked; msgfmt leaves them out too.
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def main(argv: list[str]) -> int:
    if "--extract" in argv:
        extract()
    written = compile_catalogs(force="--force" in argv)
    if written:
        print(f"messages: compiled {len(written)} catalog(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
