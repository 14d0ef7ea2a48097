"""The FastAPI application behind `bball serve`: the JSON API, the video files, and three static pages.

Safe by default: with a token set (required on any address but loopback) every request must carry it, as
`Authorization: Bearer`, a `token` query parameter (the pages' first load) or the cookie that load sets.
Requests that change state need the token in the header or a same-origin request, so another site cannot
drive a user's browser into submitting jobs. Without a token only loopback host names are answered (DNS
rebinding, see `security.py`). Every response carries a Content-Security-Policy and anti-framing headers;
JSON and pages over 1 KB are gzipped (never the video file). Errors are JSON `{"error": "one line"}`, never a
traceback.
"""

from __future__ import annotations

import hmac
import logging
from importlib import resources

from ..config import Settings, get_settings
from ..exceptions import BballError, NotFound
from .security import SECURITY_HEADERS, loopback_host, network_peer, same_origin

log = logging.getLogger(__name__)

COOKIE = "bball_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGES = {"/": "index.html", "/videos/{video_id}": "video.html", "/jobs": "jobs.html"}
GZIP_MIN_BYTES = 1024
"""Responses smaller than this are sent as they are: compressing them saves less than it costs."""


def _status_of(exc: BballError) -> int:
    from ..browse import RangeError
    from .upload import UploadTooLarge

    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UploadTooLarge):
        return 413
    if isinstance(exc, RangeError):
        return 416 if "outside" in str(exc) else 400
    return 400


def create_app(settings: Settings | None = None, token: str | None = None):
    """The app for `settings`' database; `token` (or WEB_TOKEN) turns on the token check."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

    from .api import router
    from .cloud_api import router as cloud_router
    from .court_api import router as court_router
    from .players_api import router as players_router
    from .reference import reference_page
    from .viewer_api import router as viewer_router

    settings = settings or get_settings()
    if token is None and settings.web_token is not None:
        token = settings.web_token.get_secret_value()
    # /docs is our own page (reference.py): Swagger UI would load its scripts from a CDN.
    app = FastAPI(title="basketball-analyzer", version="1", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.token = token or None

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    # Inside the guard (added before it), so it sees each response whole and leaves small ones alone; the guard
    # streams. Detection chunks shrink about 6x. Video files and ranges are never compressed (video/*, 206 and
    # octet-stream are excluded): that would break Content-Length and seeking.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, exclude_content_types=(
        *DEFAULT_EXCLUDED_CONTENT_TYPES, "application/octet-stream", "multipart/byteranges"))

    def refusal(request: Request) -> JSONResponse | None:
        """The error for a request the rules refuse, or None to let it through."""
        expected = request.app.state.token
        if not expected and network_peer(request.scope) and not loopback_host(request.headers.get("host")):
            host = request.headers.get("host", "")[:100].encode("ascii", "backslashreplace").decode()
            return error(421, f"without a token this server answers only to localhost, 127.0.0.1 or [::1], not "
                              f"{host!r}: open it by one of those names, or set WEB_TOKEN to serve others")
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
        offered = bearer or request.query_params.get("token", "") or request.cookies.get(COOKIE, "")
        if expected and not hmac.compare_digest(offered.encode(), expected.encode()):
            return error(401, "this server needs its token: open the URL `bball serve` printed, or send "
                              "Authorization: Bearer <token>")
        if request.method not in SAFE_METHODS and not (expected and bearer) and not same_origin(request):
            return error(403, "requests that change state need the token header or a same-origin request")
        return None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        response = refusal(request) or await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        expected = request.app.state.token
        if expected and request.query_params.get("token") and not request.cookies.get(COOKIE):
            response.set_cookie(COOKIE, expected, httponly=True, samesite="strict")
        return response

    @app.exception_handler(BballError)
    async def bball_error(_request, exc: BballError):
        return error(_status_of(exc), str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body"))
        return error(422, f"invalid {where or 'request'}: {first.get('msg', 'bad value')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        if exc.status_code == 404 and exc.detail == "Not Found":
            return error(404, f"no such page or API route: {request.url.path[:200]}")
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(_request, exc: Exception):
        log.exception("request failed")
        return error(500, "internal error (see the server's log)")

    app.include_router(router, prefix="/api")
    app.include_router(cloud_router, prefix="/api/cloud")
    app.include_router(viewer_router, prefix="/api")
    app.include_router(court_router, prefix="/api")
    app.include_router(players_router, prefix="/api")
    static = resources.files("basketball_analyzer.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    for path, name in PAGES.items():
        def page(name: str = name) -> HTMLResponse:
            return HTMLResponse((static / name).read_text(encoding="utf-8"))
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(reference_page(app.openapi()))
    return app

