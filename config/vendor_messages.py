"""Django REST framework's messages that Parley's API answers with, listed so that Parley's
own catalogues (locale/) carry them: REST framework's Traditional Chinese catalogue leaves some
of them in English. makemessages finds them here; nothing imports this module."""

from django.utils.translation import gettext_noop

DRF_MESSAGES = [
    gettext_noop("Authentication credentials were not provided."),
    gettext_noop("Incorrect authentication credentials."),
    gettext_noop("You do not have permission to perform this action."),
    gettext_noop("Not found."),
    gettext_noop('Method "{method}" not allowed.'),
    gettext_noop("Malformed request."),
    gettext_noop('Unsupported media type "{media_type}" in request.'),
    gettext_noop("Request was throttled."),
    gettext_noop("This field is required."),
    gettext_noop("This field may not be null."),
    gettext_noop("This field may not be blank."),
    gettext_noop("Not a valid string."),
    gettext_noop("A valid integer is required."),
    gettext_noop("Must be a valid boolean."),
    gettext_noop("Ensure this field has no more than {max_length} characters."),
    gettext_noop('Expected a list of items but got type "{input_type}".'),
    gettext_noop("JSON parse error - {detail}"),
]
