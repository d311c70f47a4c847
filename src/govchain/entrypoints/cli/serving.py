"""`govchain serve`: the municipal service (API and pages) with its anchoring process."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import time
from typing import Any

import click

from govchain.adapters.context import Context
from govchain.adapters.metrics import shared_between_processes
from govchain.bootstrap import AnchoringProcess, open_context, open_database
from govchain.entrypoints.cli.base import handle_errors, main, pass_ctx, service_settings
from govchain.services.audit import REQUEST_ID


class RedactCapabilities(logging.Filter):
    """Keeps capability tokens out of the access log: a link token (/v/…, /verify/…, ?code=) or
    a Zuordnungsmerkmal (/lookup/…, ?code=) in a logged path is replaced by "***"."""

    _SECRET = re.compile(r"(/(?:v|verify|lookup)/|[?&]code=)[^/?&\s\"]+")

    def redact(self, text: str) -> str:
        return self._SECRET.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = self.redact(str(record.msg))
        return True


class QuietScrapes(logging.Filter):
    """Leaves successful scrapes of /metrics (every few seconds) out of the access log; refused
    ones stay in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) == 5 and args[2] == "/metrics"
                    and args[4] == 200)


class JsonLines(logging.Formatter):
    """One JSON object per line (time, level, logger, message, the request's X-Request-ID, an
    exception's traceback), for log collectors; the access log's redaction runs before."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["requestId"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def converter(self, seconds: float | None = None) -> time.struct_time:
        return time.gmtime(seconds)


@main.command()
@click.option("--host", help="Adresse, an der der Dienst lauscht (Standard: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (Standard: 8000).")
@click.option("--database-url", help="sqlite:///PFAD oder postgresql://BENUTZER@HOST/DATENBANK "
              "(Standard: SQLite im govchain-Verzeichnis).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Prozesse, die Anfragen beantworten (je Prozess ein Statusindex); ab 2 "
                   "verankert ein eigener Prozess.")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str | None, port: int | None, database_url: str | None,
          workers: int) -> None:
    """Startet den Dienst der Kommune (HTTP-API unter /api/v1, Seiten; OpenAPI unter
    /api/v1/openapi.json, mit api_docs = true auch /docs)."""
    # The HTTP stack is imported only here: every other command starts without it.
    import uvicorn

    from govchain.entrypoints.http.app import create_app

    settings = service_settings(ctx, host=host, port=port, database_url=database_url)
    # Fail here with a clear message (outdated or newer database, missing deployment, no
    # passphrase) rather than with a traceback from inside the server's startup.
    open_database(settings).dispose()
    open_context(settings).close()
    options: dict[str, Any] = {"host": settings.host, "port": settings.port,
                               "access_log": settings.access_log,
                               "log_config": log_config(settings.log_format),
                               # Forwarded headers only from settings.trusted_proxies (the
                               # app's ProxyHeadersMiddleware); uvicorn's own default would
                               # believe any caller on 127.0.0.1
                               "proxy_headers": False, "server_header": False}
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their app from the environment, as under a process supervisor.
    os.environ["GOVCHAIN_HOME"] = str(settings.home)
    for name, value in (("RPC_URL", settings.rpc_url), ("DATABASE_URL", settings.database_url),
                        ("USECASES", settings.usecases), ("HOST", settings.host),
                        ("PORT", settings.port)):
        if value is not None:
            os.environ[f"GOVCHAIN_{name}"] = str(value)
    # Every process counts in files of one fresh directory, which the scraped process adds up
    # (prometheus-client's multiprocess mode): named before any of them starts.
    with shared_between_processes(settings.home):
        # The anchoring workers get a process of their own; the request processes only wait.
        anchoring = AnchoringProcess(settings)
        anchoring.start()
        os.environ["GOVCHAIN_ANCHOR_WORKERS"] = "false"
        try:
            uvicorn.run("govchain.entrypoints.http.app:create_app", factory=True, workers=workers,
                        **options)
        finally:
            anchoring.stop()


def log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging, with link tokens and codes redacted from the access log and without
    successful scrapes of /metrics (also in worker processes, which configure logging anew);
    with "json" every line (govchain's own loggers too) a JSON object (JsonLines)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactCapabilities}
    config["filters"]["quiet_scrapes"] = {"()": QuietScrapes}
    config["handlers"]["access"]["filters"] = ["redact", "quiet_scrapes"]
    if log_format == "json":
        for name in ("default", "access"):
            config["formatters"][name] = {"()": JsonLines}
        config["loggers"]["govchain"] = {"handlers": ["default"], "level": "INFO",
                                         "propagate": False}
    return config
