"""Run the XMPP federation gateway (an XEP-0114 component) until stopped."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

REQUIRED = ("PARLEY_XMPP_HOST", "PARLEY_XMPP_COMPONENT", "PARLEY_XMPP_SECRET")


class Command(BaseCommand):
    help = "Connect Parley to the organisation's XMPP server as a component (federation)."

    def handle(self, *args, **options):
        missing = [name for name in REQUIRED if not getattr(settings, name)]
        if missing:
            raise CommandError(
                f"Federation is off: set {', '.join(missing)} (and PARLEY_XMPP_PORT if the "
                "component port is not 5347) to connect to your XMPP server. See README, "
                '"Federation (XMPP)".'
            )
        logging.getLogger("federation").setLevel(logging.INFO)
        self.stdout.write(
            f"XMPP gateway: {settings.PARLEY_XMPP_COMPONENT} via "
            f"{settings.PARLEY_XMPP_HOST}:{settings.PARLEY_XMPP_PORT}"
        )
        asyncio.run(self._run())

    async def _run(self) -> None:
        from federation.gateway import gateway_run  # imports slixmpp only when configured

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await gateway_run(stop)
