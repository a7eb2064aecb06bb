"""`digest serve`: run the web app with uvicorn (loopback by default; elsewhere only with a staff token)."""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from .. import logs
from ..db import current_revision
from .common import EXIT_USAGE, App, fail, handle_errors, main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs DIGEST_STAFF_TOKEN.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.pass_obj
@handle_errors
def serve(app: App, host: str, port: int) -> None:
    """Run the web app: staff preview at /, one-click unsubscribe, preferences, web version.

    Every link in an email is DIGEST_BASE_URL plus a path of this app, so DIGEST_BASE_URL must be
    the address subscribers reach it at (usually a reverse proxy in front of it).
    """
    # The server and the web app (FastAPI) take ~0.4 s to import: only this command loads them.
    import uvicorn  # (see above)

    from ..web import create_app  # (see above)
    from ..web.security import check_staff_token, is_loopback_address, uvicorn_log_config  # (see above)

    settings = app.settings
    token = settings.staff_token
    check_staff_token(token or None)  # whatever the host: a proxy in front of 127.0.0.1 faces the network too
    if not is_loopback_address(host):
        if not token:
            fail(f"--host {host} is reachable from other machines, and the staff preview shows subscriber data: "
                 "set DIGEST_STAFF_TOKEN (a long random string, e.g. `python -c 'import secrets; "
                 "print(secrets.token_urlsafe(32))'`) or serve on 127.0.0.1", EXIT_USAGE)
    if current_revision(app.engine()) is None:
        fail("the database has no schema yet: run `digest init` first", EXIT_USAGE)
    if not is_loopback_address(host) and is_loopback_address(urlsplit(settings.base_url).hostname or ""):
        click.echo(f"warning: DIGEST_BASE_URL is {settings.base_url}: links in sent mail point at a loopback "
                   "address that subscribers cannot reach", err=True)
    click.echo(f"serving on http://{'[' + host + ']' if ':' in host else host}:{port} "
               f"(links in mail use {settings.base_url})", err=True)
    # proxy_headers=False: the app decides what a forwarded request may do (see digest.web.security);
    # uvicorn must not rewrite the client address from headers anyone can send.
    uvicorn.run(create_app(settings, app.engine()), host=host, port=port, proxy_headers=False,
                server_header=False, log_config=uvicorn_log_config(logs.json_key(settings)))
