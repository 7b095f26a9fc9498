"""The language and time zone of each request (directory/locale.py decides)."""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

from directory.exceptions import database_unavailable
from directory.locale import language_choose, time_zone_choose


def person_locale_activate(person) -> None:
    """Answer in a signed-in person's own language, when they chose one (API tokens are
    authenticated after the middleware ran: directory.authentication calls this)."""
    if getattr(person, "language", ""):
        translation.activate(language_choose(person=person))
    if getattr(person, "time_zone", ""):
        timezone.activate(time_zone_choose(person=person))


class PersonLanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, choosing by the person's setting first.

    After AuthenticationMiddleware, so a browser session's person is known; the response
    gets Content-Language and Vary: Accept-Language, Cookie from LocaleMiddleware.
    """

    def process_request(self, request) -> None:
        try:
            user = getattr(request, "user", None)
            person = user if user is not None and user.is_authenticated else None
            language = language_choose(
                person=person,
                accept_language=request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
                cookie=request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
            )
            time_zone = time_zone_choose(person=person)
        except Exception as exc:
            # A database outage: the view meets it too and answers 503 with Retry-After
            # (config.api_errors); until then, the server's own language and zone.
            if database_unavailable(exc) is None:
                raise
            language, time_zone = settings.LANGUAGE_CODE, settings.TIME_ZONE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        timezone.activate(time_zone)

    def process_response(self, request, response):
        response = super().process_response(request, response)
        timezone.deactivate()
        return response
