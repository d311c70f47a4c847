"""The pages' own words in German and English (``locales/*.json``); German is the default.

Labels of document fields are not here: they come from each use case's schema and display files.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal

from fastapi import Request

from govchain.domain.timefmt import BERLIN

Lang = Literal["de", "en"]
LANGS: tuple[Lang, ...] = ("de", "en")
DEFAULT_LANG: Lang = "de"
LANG_COOKIE = "lang"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


@cache
def messages(lang: Lang) -> dict[str, str]:
    data = json.loads((LOCALES_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{lang}.json must hold an object")
    return {str(k): str(v) for k, v in data.items()}


def _as_lang(value: str | None) -> Lang | None:
    return next((lang for lang in LANGS if lang == value), None)


def requested_lang(request: Request) -> Lang | None:
    """The language the address asks for (``?lang=en``); it is then kept in a cookie."""
    return _as_lang(request.query_params.get("lang"))


def lang_of(request: Request) -> Lang:
    return requested_lang(request) or _as_lang(request.cookies.get(LANG_COOKIE)) or DEFAULT_LANG


def when(value: datetime | str | None, with_time: bool = True) -> str:
    """A point in time as the pages show it, in Berlin time: '27.11.2026, 14:03' (a date alone
    without a time)."""
    if value is None or value == "":
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        return dt.strftime("%d.%m.%Y")
    local = dt.astimezone(BERLIN)
    return local.strftime("%d.%m.%Y, %H:%M") if with_time else local.strftime("%d.%m.%Y")


class Translator:
    """``t("key", name=...)``: the text for `key` in the page's language, German as fallback."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._own = messages(lang)
        self._fallback = messages(DEFAULT_LANG)

    def has(self, key: str) -> bool:
        return key in self._own or key in self._fallback

    def __call__(self, key: str, **values: object) -> str:
        text = self._own[key] if key in self._own else self._fallback.get(key, key)
        return text.format(**values) if values else text

    def at(self, value: datetime | str | None) -> str:
        """`when` with the language's word for the time ('27.11.2026, 14:03 Uhr')."""
        return " ".join(filter(None, (when(value), self("time.suffix"))))

    def pick(self, texts: object, fallback: str = "") -> str:
        """The page's language out of a ``{"de": …, "en": …}`` object of a use-case file."""
        if isinstance(texts, dict):
            value = texts.get(self.lang) or texts.get(DEFAULT_LANG)
            if isinstance(value, str):
                return value
        return fallback
