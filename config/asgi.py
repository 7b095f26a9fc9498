"""ASGI entry point: HTTP through Django, WebSockets at /ws/ through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: the routing imports models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from directory.input_screening import WebSocketInputScreening  # noqa: E402
from directory.websocket_auth import WebSocketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketInputScreening(
            WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
