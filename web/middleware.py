"""Content-Security-Policy for Parley's own pages.

The pages load scripts and styles only from this site, with no inline script or style, so an
injected `<script>` or `onerror=` in someone's message text cannot run even if a rendering bug
ever let it into the DOM. The WebSocket is allowed on this host only (ws: and wss:, since
`connect-src 'self'` covers WebSockets only in newer browsers). Django admin and the API
documentation page (Swagger UI, inline scripts) are left alone: they are not the web client.
"""

EXEMPT_PREFIXES = ("/admin/", "/api/")


def content_security_policy(host: str) -> str:
    """Return the policy for a page served to this host."""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": f"'self' ws://{host} wss://{host}",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Add the policy to HTML responses of the web pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            "Content-Security-Policy" not in response
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            response["Content-Security-Policy"] = content_security_policy(request.get_host())
        return response
