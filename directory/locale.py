"""Which language and time zone a person reads Parley in.

The person's own setting (Person.language / time_zone) comes first; without one the browser's
Accept-Language chooses among settings.LANGUAGES; failing that the organisation's default
(OrganisationSettings, set in the admin) applies. Stored and exported times stay UTC: the zone
only changes how a page shows them.
"""

import time
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real

from directory.models import OrganisationSettings

# The organisation's defaults are read at most every few seconds per process: they change
# rarely, and reading them on every request would add a query to every page and API call.
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Defaults:
    language: str
    time_zone: str


_cache: tuple[float, Defaults] | None = None


def organisation_defaults() -> Defaults:
    """Return the organisation's default language and time zone (cached briefly)."""
    global _cache
    now = time.monotonic()
    if _cache is not None and (now - _cache[0] < CACHE_SECONDS or _cache[0] == float("inf")):
        return _cache[1]
    row = OrganisationSettings.objects.filter(pk=1).values("default_language", "default_time_zone")
    found = row.first() or {}
    defaults = Defaults(
        language=language_supported(found.get("default_language") or "") or settings.LANGUAGE_CODE,
        time_zone=found.get("default_time_zone") or settings.TIME_ZONE,
    )
    _cache = (now, defaults)
    return defaults


def organisation_defaults_hold(defaults: Defaults) -> None:
    """Hold these defaults in this process until organisation_defaults_forget() (tests)."""
    global _cache
    _cache = (float("inf"), defaults)


def organisation_defaults_forget() -> None:
    """Drop this process's cached defaults (after an administrator changed them)."""
    global _cache
    _cache = None


def language_supported(code: str) -> str | None:
    """Return the LANGUAGES code for a language tag ("ko-KR" -> "ko", "zh-TW" -> "zh-hant"),
    or None when Parley does not speak it."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code.lower())
    except LookupError:
        return None


def language_from_accept(header: str) -> str | None:
    """Return the first language of an Accept-Language header that Parley speaks."""
    for tag, _quality in trans_real.parse_accept_lang_header(header or ""):
        if tag == "*":
            break
        found = language_supported(tag)
        if found is not None:
            return found
    return None


def language_choose(*, person=None, accept_language: str = "", cookie: str = "") -> str:
    """Return the language to answer in (see the module's docstring). `cookie` is the
    language a visitor picked on a page before signing in."""
    own = getattr(person, "language", "") if person is not None else ""
    return (
        language_supported(own)
        or language_supported(cookie)
        or language_from_accept(accept_language)
        or organisation_defaults().language
    )


def time_zone_valid(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def time_zone_choose(*, person=None) -> str:
    """Return the IANA zone pages show times in: the person's, else the organisation's."""
    own = getattr(person, "time_zone", "") if person is not None else ""
    if own and time_zone_valid(own):
        return own
    default = organisation_defaults().time_zone
    return default if time_zone_valid(default) else "UTC"
