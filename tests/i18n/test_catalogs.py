"""The Korean catalogs are complete and current: every message has a checked Korean
translation that keeps the English's placeholders and tags, and every marked string of
the source is in them (extracted afresh into a copy, as `make messages` would)."""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polib
import pytest

from devtools.messages import LOCALE_DIR, compile_catalogs

ROOT = LOCALE_DIR.parent
CATALOGS = [LOCALE_DIR / "ko" / "LC_MESSAGES" / f"{domain}.po" for domain in ("django", "djangojs")]
# %(name)s, %s, %d ...; {name} (str.format and interpolate's named form); HTML tags.
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sdif]|%[sdif]|\{[a-z_0-9]*\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def entries(path: Path) -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(path)) if not entry.obsolete]


def key(entry: polib.POEntry) -> tuple:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def describe(entry: polib.POEntry) -> str:
    where = entry.occurrences[0][0] + ":" + entry.occurrences[0][1] if entry.occurrences else "?"
    return f"{entry.msgid!r} ({where})"


def translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


# The catalog's messages by where they are used, so that each part of the product can
# be checked on its own while it is being translated.
AREAS = {
    "generation-history-projects": (
        "generation/", "history/", "projects/", "templates/generation/", "templates/history/", "templates/projects/",
    ),
    "credits-pixelart-api-operations": (
        "credits/", "pixelart/", "api/", "operations/", "audit/", "falschemas/", "templates/admin/", "templates/pixelart/",
    ),
}
SITE = "site"  # everything else: the frame of every page, accounts, error pages, scripts
# Parts whose translation is under way. Strict: once a part is complete its test passes
# and fails as an unexpected pass, so take the part out of this set then.
AWAITING_TRANSLATION: set[str] = set()


def areas_of(entry: polib.POEntry) -> set[str]:
    found = set()
    for path, _line in entry.occurrences:
        found |= {area for area, prefixes in AREAS.items() if path.startswith(prefixes)} or {SITE}
    return found or {SITE}


def untranslated(entry: polib.POEntry) -> bool:
    return "fuzzy" in entry.flags or not all(t.strip() for t in translations(entry))


@pytest.mark.parametrize(
    ("catalog", "area"),
    [
        pytest.param(
            catalog, area, id=f"{catalog.name}-{area}",
            marks=[pytest.mark.xfail(strict=True, reason="being translated")] if area in AWAITING_TRANSLATION and catalog.name == "django.po" else [],
        )
        for catalog in CATALOGS for area in [SITE, *AREAS]
    ],
)
def test_every_message_has_a_korean_translation(catalog, area):
    assert catalog.exists(), f"{catalog.relative_to(ROOT)} is missing: run `make messages`"
    missing = [describe(e) for e in entries(catalog) if area in areas_of(e) and untranslated(e)]
    assert not missing, f"{len(missing)} message(s) without a checked Korean translation:\n" + "\n".join(missing)


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda path: path.name)
def test_each_message_is_in_its_catalog_once(catalog):
    # Catalogs merge line by line: two edits of one message can leave it twice.
    doubled = [msgid for (_, msgid, _), n in Counter(key(e) for e in entries(catalog)).items() if n > 1]
    assert not doubled, f"messages listed more than once in {catalog.name}: {doubled}"


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda path: path.name)
def test_translations_keep_the_placeholders_and_tags(catalog):
    wrong = []
    for entry in entries(catalog):
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        for translation in filter(None, translations(entry)):
            same_placeholders = any(
                Counter(PLACEHOLDER.findall(translation)) == Counter(PLACEHOLDER.findall(source)) for source in sources
            )
            # Korean has one plural form: it may name the number the English singular leaves out.
            if entry.msgid_plural:
                same_placeholders = set(PLACEHOLDER.findall(translation)) <= set(PLACEHOLDER.findall(entry.msgid_plural))
            same_tags = any(sorted(TAG.findall(translation)) == sorted(TAG.findall(source)) for source in sources)
            if not (same_placeholders and same_tags):
                wrong.append(f"{describe(entry)} -> {translation!r}")
    assert not wrong, "translations that change a placeholder or tag:\n" + "\n".join(wrong)


def test_the_catalogs_compile(tmp_path):
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    written = compile_catalogs(copy)
    assert {path.name for path in written} == {"django.mo", "djangojs.mo"}
    catalog = polib.mofile(str(copy / "ko" / "LC_MESSAGES" / "django.mo"))
    assert catalog.find("History").msgstr == "기록"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext (xgettext) is not installed: apt-get install gettext")
def test_every_marked_string_is_in_the_catalogs(tmp_path):
    """Extract into a copy of the source tree and its catalogs: nothing marked in the
    source may be missing from the shipped catalogs (`make messages` adds it)."""
    tree = tmp_path / "tree"
    not_source = [".venv", "venv", ".git", "__pycache__", ".pytest_cache", "media", "var", "staticfiles", "htmlcov", "*.mo", "db.sqlite3*"]
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*not_source), symlinks=True)
    subprocess.run(
        [sys.executable, "-m", "devtools.messages", "--extract"], cwd=tree, check=True, capture_output=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "videoplanet.settings"},
    )
    problems = []
    for shipped in CATALOGS:
        extracted = tree / shipped.relative_to(ROOT)
        have = {key(e) for e in entries(shipped)}
        for entry in entries(extracted):
            if key(entry) not in have:
                problems.append(f"{shipped.name}: {describe(entry)}")
    assert not problems, "marked strings missing from the catalogs (run `make messages` and translate):\n" + "\n".join(problems)
