"""The explorer's web server: Starlette routes over `chain`, Jinja2 templates, safe headers.

Safe by default: it listens on loopback unless told otherwise; every chain
string goes through Jinja2's autoescaping (questions and options come from
anyone); no inline script or style, under `Content-Security-Policy:
default-src 'self'`; `X-Content-Type-Options: nosniff` on every answer, the
`?format=json` view included; a node that is down is a page that says so.
"""

import ipaddress
import json
import sys
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mpc_tx.client.rpc import RpcError, QueryError
from mpc_tx.explorer import charts
from mpc_tx.explorer.chain import (
    Explorer,
    NodesDown,
    NotFound,
    BadInput,
    home,
    polls_page,
    poll_page,
    block_page,
    tx_page,
    validators_page,
    search,
    height_arg,
)
from mpc_tx.explorer.verify import Verifier

__all__ = ["make_app", "serve", "parse_listen", "SECURITY_HEADERS"]

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _Headers:
    """ASGI middleware: the security headers on every response, static files and errors included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k for k, _v in SECURITY_HEADERS}
                message["headers"] = [h for h in message.get("headers", []) if h[0] not in names] + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


class _LoopbackHost:
    """ASGI middleware for a loopback listener: refuse requests whose Host is not a loopback name.

    A web page elsewhere can rebind its own DNS name to 127.0.0.1 and read this
    server from the user's browser (DNS rebinding); its requests carry that name.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0] if ":" in host else host
            if not _loopback(name):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 421,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")] + SECURITY_HEADERS,
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b"this explorer answers only to a loopback host name\n"}
                )
                return
        await self.app(scope, receive, send)


def _short(text, n=12):
    text = "" if text is None else str(text)
    return text if len(text) <= n + 1 else text[:n] + "…"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = _short
    env.filters["tojson_text"] = lambda v: json.dumps(v, sort_keys=True)  # escaped again by autoescape
    env.globals.update(
        bars=charts.bars, columns=charts.columns, pairs=lambda items, a, b: [(i[a], i[b]) for i in items]
    )
    return env


def make_app(explorer: Explorer, loopback_only=True):
    """Return the ASGI app serving `explorer`'s pages (to loopback Host names only, unless told otherwise)."""
    env = _environment()
    if explorer.verifier is None:
        explorer.verifier = Verifier(explorer, explorer.genesis)

    def render(request, template: str, data: dict, status=200):
        fmt = request.query_params.get("format", "html")
        if fmt == "json":
            return JSONResponse(data, status_code=status)
        if fmt != "html":
            template, data, status = "error.html", {"error": "format must be html or json", "status": 400}, 400
        html = env.get_template(template).render(data=data, page=template.removesuffix(".html"), query=request.url.path)
        return Response(html, status_code=status, media_type="text/html; charset=utf-8")

    def page(template, fn):
        def endpoint(request):
            try:
                data = fn(request)
            except BadInput as exc:
                return render(request, "error.html", {"error": str(exc), "status": 400}, 400)
            except NotFound as exc:
                return render(request, "error.html", {"error": str(exc), "status": 404}, 404)
            except NodesDown as exc:
                return render(
                    request, "down.html", {"error": "no node answered", "nodes": exc.nodes, "status": 503}, 503
                )
            except (RpcError, QueryError) as exc:
                return render(
                    request,
                    "error.html",
                    {"error": f"the node answered with an error: {str(exc)[:300]}", "status": 502},
                    502,
                )
            if isinstance(data, Response):
                return data
            return render(request, template, data)

        return endpoint

    def search_endpoint(request):
        q = request.query_params.get("q", "")
        if not q.strip():
            return {"q": "", "hits": [], "empty": True}
        data = search(explorer, q)
        if len(data["hits"]) == 1 and request.query_params.get("format", "html") == "html":
            return RedirectResponse(data["hits"][0]["href"], status_code=303)
        return data

    def verify_endpoint(request):
        poll_id = height_arg(request.path_params["poll_id"], "poll id")
        return JSONResponse(explorer.verifier.state(poll_id))

    def verify_page(request):
        try:
            return verify_endpoint(request)
        except BadInput as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    routes = [
        Route("/", page("home.html", lambda r: home(explorer))),
        Route("/polls", page("polls.html", lambda r: polls_page(explorer, r.query_params.get("after")))),
        Route(
            "/poll/{poll_id}",
            page("poll.html", lambda r: poll_page(explorer, r.path_params["poll_id"], r.query_params.get("after"))),
        ),
        Route("/poll/{poll_id}/verify", verify_page),
        Route("/block/{height}", page("block.html", lambda r: block_page(explorer, r.path_params["height"]))),
        Route("/tx/{tx_hash}", page("tx.html", lambda r: tx_page(explorer, r.path_params["tx_hash"]))),
        Route("/validators", page("validators.html", lambda r: validators_page(explorer))),
        Route("/search", page("search.html", search_endpoint)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # Outside Starlette's own error middleware, so that even a 500 carries the headers.
    app = _Headers(Starlette(routes=routes))
    return _LoopbackHost(app) if loopback_only else app


def parse_listen(text: str) -> tuple[str, int]:
    """Split HOST:PORT (or [V6]:PORT); raise ValueError on anything else."""
    host, sep, port = (text or "").rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"--listen takes HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(nodes: list, listen: str = "127.0.0.1:8080", genesis_path=None) -> int:
    """Run the explorer until interrupted (uvicorn); return an exit code."""
    import uvicorn

    host, port = parse_listen(listen)
    local = _loopback(host)
    if not local:
        print(
            f"explorer: listening on {host}, not loopback: every page is public chain data, "
            "but anyone who can reach it can make this server query your nodes",
            file=sys.stderr,
        )
    genesis = json.loads(Path(genesis_path).read_text()) if genesis_path else None
    explorer = Explorer(nodes, genesis=genesis)
    print(
        f"explorer: http://{'[' + host + ']' if ':' in host else host}:{port}/ over {', '.join(explorer.urls)}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(make_app(explorer, loopback_only=local), host=host, port=port, log_level="warning", server_header=False)
    return 0
