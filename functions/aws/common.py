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
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from controller_backup.errors import BackupError, BadRequest, http_status
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
        for key in ("execution_id", "id"):
            if isinstance(event.get(key), str):
                return str(event[key])
    return getattr(context, "aws_request_id", None)


def check_keys(payload: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise BadRequest(
            f"{what}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def get_bool(payload: Mapping[str, Any], name: str, *, from_query: bool = False) -> bool:
    """A boolean field; query strings carry text, JSON bodies and invokes carry real booleans."""
    value = payload.get(name, False)
    if isinstance(value, bool):
        return value
    if from_query and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise BadRequest(f"{name} must be true or false, got {json.dumps(value)[:40]}")


def get_str(payload: Mapping[str, Any], name: str, *, max_length: int = 1024) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise BadRequest(f"{name} must be a non-empty string of at most {max_length} characters")
    return value.strip()


def json_body(body: Any) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty object)."""
    if body is None or body == "":
        return {}
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


# -- results --------------------------------------------------------------------------------------


def error_response(exc: BackupError) -> Response[str]:
    body = exc.to_dict()
    return Response(status_code=http_status(exc), content_type="application/json", body=json.dumps(body))


def record_backup(result: JobResult | None, exc: BaseException | None = None) -> None:
    if result is not None:
        metrics.add_metric(name="BackupSucceeded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BackupBytes", unit=MetricUnit.Bytes, value=result.size)
        metrics.add_metric(name="BackupDurationMs", unit=MetricUnit.Milliseconds, value=result.duration_ms)
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
