"""What both Lambda handlers share: Powertools logging and metrics, event helpers, HTTP mapping.

The handlers stay thin: parse the event, call the core, map the result. Only AWS modules are
imported here (docs/design.md, invariant 8), and the X-Ray tracer only when tracing is switched on: the
X-Ray SDK alone costs ~180 ms of cold start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from controller_backup.errors import BackupError, BadRequest, VerifyFailed, http_status, unexpected_failure
from controller_backup.job_requests import parse_body
from controller_backup.redact import redact
from controller_backup.results import JobResult

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "controller-backup")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ControllerBackup")

Handler = TypeVar("Handler", bound=Callable[..., Any])


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every registered secret and secret-shaped fragment masked.

    The core's log-record factory already masks messages; this also covers extra keys and
    tracebacks, which Powertools formats itself.
    """

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# A request answered 400, or an ignored event, publishes no metric; that is expected, not a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def _route_core_logs() -> None:
    """Inside Lambda, send the core's logs through the Powertools handler (JSON, correlation id).

    Only there: elsewhere (tests, a developer's shell) the core's loggers keep propagating as usual.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logging.getLogger("controller_backup")
    copy_config_to_registered_loggers(source_logger=logger, include={"controller_backup"})


_route_core_logs()


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in ("false", "0", "no")


def lambda_entry(func: Handler) -> Handler:
    """Wrap a handler with the Powertools context: logs, metrics flushed even on failure, tracing if on."""
    wrapped: Any = metrics.log_metrics(func, capture_cold_start_metric=True)
    wrapped = logger.inject_lambda_context(wrapped, clear_state=True)
    if tracing_enabled():
        from aws_lambda_powertools import Tracer

        wrapped = Tracer(service=SERVICE).capture_lambda_handler(wrapped)
    return wrapped  # type: ignore[no-any-return]


# -- events ---------------------------------------------------------------------------------------


def is_function_url_event(event: Any) -> bool:
    """A Function URL request (payload format 2.0) rather than an invoke or an EventBridge event."""
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), Mapping)
        and "http" in event["requestContext"]
    )


def correlation_id(event: Any, context: Any) -> str | None:
    """The id that ties this run's log lines to its trigger."""
    if isinstance(event, Mapping):
        request_context = event.get("requestContext")
        if isinstance(request_context, Mapping) and request_context.get("requestId"):
            return str(request_context["requestId"])
        if isinstance(event.get("id"), str):  # an EventBridge event's id
            return str(event["id"])
    return getattr(context, "aws_request_id", None)


def function_url_payload(event: Any) -> dict[str, Any]:
    """A Function URL request's JSON body, through the core's one parser; query strings carry nothing."""
    if event.query_string_parameters:
        raise BadRequest("query parameters are not read: send the fields in the JSON body")
    return parse_body(event.body, base64_encoded=bool(event.is_base64_encoded))


# -- results --------------------------------------------------------------------------------------


def error_response(exc: BackupError) -> Response[str]:
    body = exc.to_dict()
    return Response(status_code=http_status(exc), content_type="application/json", body=json.dumps(body))


def unexpected_response(exc: Exception) -> Response[str]:
    """A bug answers 500 with the core's "internal" result; its text and traceback only in the log.

    Powertools' own answers (an unknown route's 404, a wrong method's 405) keep their status.
    """
    if isinstance(exc, ServiceError):
        body = {"status": "error", "code": "bad-request", "error": exc.msg}
        return Response(status_code=exc.status_code, content_type="application/json", body=json.dumps(body))
    logger.exception(f"unexpected failure: {type(exc).__name__}")
    return Response(status_code=500, content_type="application/json", body=json.dumps(unexpected_failure()))


def function_url_app() -> LambdaFunctionUrlResolver:
    """A Function URL router whose failures answer as the core's results, the same for every handler."""
    app = LambdaFunctionUrlResolver()
    app.exception_handler(BackupError)(error_response)
    app.exception_handler(Exception)(unexpected_response)
    return app


def function_url_answer(app: LambdaFunctionUrlResolver, event: Any, context: Any) -> dict[str, Any] | None:
    """Tie the run's log lines to its trigger, and answer a Function URL request (None: another event)."""
    logger.set_correlation_id(correlation_id(event, context))
    if is_function_url_event(event):
        return app.resolve(event, context)
    return None


def record_backup(result: JobResult | None, exc: BaseException | None = None) -> None:
    if result is not None:
        metrics.add_metric(name="BackupSucceeded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BackupBytes", unit=MetricUnit.Bytes, value=result.size)
        metrics.add_metric(name="BackupDurationMs", unit=MetricUnit.Milliseconds, value=result.duration_ms)
        copies = result.details.get("copies")
        if copies is not None:  # copies configured: 0 too, so the alarm sees data every night
            failed = sum(1 for copy in copies if copy["status"] == "failed")
            metrics.add_metric(name="CopyFailed", unit=MetricUnit.Count, value=failed)
        logger.info("backup result", extra={"result": result.to_dict()})
    else:
        metrics.add_metric(name="BackupFailed", unit=MetricUnit.Count, value=1)
        _log_failure("backup", exc)


def record_restore(result: JobResult | None, exc: BaseException | None = None) -> None:
    if result is not None:
        metrics.add_metric(name="RestoreSucceeded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RestoreDurationMs", unit=MetricUnit.Milliseconds, value=result.duration_ms)
        logger.info("restore result", extra={"result": result.to_dict()})
    else:
        metrics.add_metric(name="RestoreFailed", unit=MetricUnit.Count, value=1)
        _log_failure("restore", exc)


def record_verify(result: JobResult | None, exc: BaseException | None = None) -> None:
    """`BackupVerified` 1 when every destination passed; `VerifyFailed` the count of those that did
    not (one for a check that could not run at all). The alarms watch both, and BackupVerified's
    absence for 25 hours."""
    if result is not None:
        metrics.add_metric(name="BackupVerified", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="VerifyFailed", unit=MetricUnit.Count, value=0)
        logger.info("verify result", extra={"result": result.to_dict()})
        return
    failed = exc.failed if isinstance(exc, VerifyFailed) else 1
    metrics.add_metric(name="VerifyFailed", unit=MetricUnit.Count, value=failed)
    if isinstance(exc, VerifyFailed):
        logger.error("verify result", extra={"result": exc.result})  # the core logged each failure
    else:
        _log_failure("verify", exc)


def _log_failure(job: str, exc: BaseException | None) -> None:
    if isinstance(exc, BackupError):
        logger.error(f"{job} failed", extra={"result": exc.to_dict()})
    else:
        logger.exception(f"{job} failed unexpectedly")


class _ClientCache:
    """One boto3 client per service and endpoint, built on first use (service models cost ~100 ms)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str) -> Any:
        key = (
            service,
            os.environ.get("AWS_ENDPOINT_URL", ""),
            os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}", ""),
            os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "")),
        )
        with self._lock:
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
                )
                self._clients[key] = boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
            return self._clients[key]


aws_clients = _ClientCache()
