"""From an Azure Resource Manager event to the replacement controller it announces.

An Event Grid event for `Microsoft.Compute/virtualMachines/write` or `.../start/action` names the
VM by its resource id and nothing else: not its private IP, not the instance. Two ARM reads
answer both, through azure-core's own pipeline (bearer token, retries) rather than the much larger
azure-mgmt-compute / azure-mgmt-network packages:

* `GET {vm id}` gives `properties.vmId` (a GUID new for every VM instance, so a VM re-created
  under the same name is a new replacement: this is the idempotency key), the tags, and the
  primary network interface;
* `GET {nic id}` gives the primary IP configuration's `privateIPAddress` (a fresh controller's
  admin password).

The function's identity needs `Reader` on the controller's resource group.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from azure.core import PipelineClient
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    ContentDecodePolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest
from controller_backup.errors import AccessDenied, BackupError, BadRequest, ObjectNotFound, StoreError

log = logging.getLogger("controller_backup.azure.replacement")

#: Event Grid event types and ARM operations that announce a VM that is (again) running
EVENT_TYPES = ("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceActionSuccess")
OPERATIONS = ("Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/start/action")
ARM_ENDPOINT_ENV = "AZURE_RESOURCE_MANAGER_ENDPOINT"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
COMPUTE_API = "2024-07-01"
NETWORK_API = "2024-05-01"
_VM_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachines/[^/]+$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VmEvent:
    """The parts of an Event Grid ARM event this function acts on."""

    event_id: str
    event_type: str
    operation: str
    resource_id: str


@dataclass(frozen=True)
class ReplacementVm:
    resource_id: str
    name: str
    vm_id: str
    private_ip: str
    tags: dict[str, str] = field(default_factory=dict)


def parse_event(body: bytes | str) -> VmEvent | None:
    """The VM event in a queue message (Event Grid schema), or None when it is not one we act on.

    Raises BadRequest when the message is not an Event Grid event at all.
    """
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the queue message is not JSON (expected an Event Grid event)") from None
    if isinstance(event, list) and len(event) == 1:
        event = event[0]
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise BadRequest("the queue message is not an Event Grid event (no 'data' object)")
    data = event["data"]
    event_type = str(event.get("eventType", ""))
    operation = str(data.get("operationName", ""))
    resource_id = str(data.get("resourceUri") or event.get("subject") or "")
    if event_type not in EVENT_TYPES or operation.lower() not in (op.lower() for op in OPERATIONS):
        return None
    if str(data.get("status", "Succeeded")) != "Succeeded":
        return None
    if not _VM_ID.match(resource_id):
        raise BadRequest(f"event {event.get('id')!r}: resourceUri is not a virtual machine id")
    return VmEvent(str(event.get("id", "")), event_type, operation, resource_id)


class ArmReader:
    """Just enough of ARM: GET a resource as JSON, with the SDK's auth and retry policies."""

    def __init__(self, credential: Any, *, endpoint: str | None = None, **client_options: Any) -> None:
        self.endpoint = (endpoint or os.environ.get(ARM_ENDPOINT_ENV) or DEFAULT_ARM_ENDPOINT).rstrip("/")
        policies = [
            HeadersPolicy(),
            UserAgentPolicy("controller-backup"),
            RetryPolicy(retry_total=3),
            BearerTokenCredentialPolicy(credential, f"{self.endpoint}/.default"),
            ContentDecodePolicy(),
            HttpLoggingPolicy(),
        ]
        self._client: PipelineClient[Any, Any] = PipelineClient(
            self.endpoint, policies=policies, **client_options
        )

    def get(self, resource_id: str, api_version: str) -> dict[str, Any]:
        request = HttpRequest("GET", f"{self.endpoint}{resource_id}", params={"api-version": api_version})
        try:
            response = self._client.send_request(request)
        except AzureError as exc:
            raise StoreError(f"ARM read of {resource_id} failed: {type(exc).__name__}") from None
        if response.status_code == 404:
            raise ObjectNotFound(f"ARM: {resource_id} does not exist")
        if response.status_code in (401, 403):
            raise AccessDenied(
                f"ARM refused to read {resource_id} ({response.status_code}); the function's identity "
                "needs 'Reader' on the controller's resource group"
            )
        if response.status_code != 200:
            raise StoreError(f"ARM read of {resource_id} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise StoreError(f"ARM read of {resource_id} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise StoreError(f"ARM read of {resource_id} answered unexpected JSON")
        return body

    def replacement(self, resource_id: str) -> ReplacementVm:
        """The VM's instance id, tags and primary private IP."""
        vm = self.get(resource_id, COMPUTE_API)
        try:
            props = vm["properties"]
            vm_id = str(props["vmId"])
            nics = props["networkProfile"]["networkInterfaces"]
            nic_ref = next((n for n in nics if (n.get("properties") or {}).get("primary")), nics[0])
            nic = self.get(str(nic_ref["id"]), NETWORK_API)
            configs = nic["properties"]["ipConfigurations"]
            config = next((c for c in configs if (c.get("properties") or {}).get("primary")), configs[0])
            private_ip = str(config["properties"]["privateIPAddress"])
        except BackupError:
            raise
        except (KeyError, IndexError, TypeError):
            raise StoreError(
                f"ARM: {resource_id} has no primary network interface with a private IP"
            ) from None
        return ReplacementVm(
            resource_id=resource_id,
            name=str(vm.get("name") or resource_id.rsplit("/", 1)[-1]),
            vm_id=vm_id,
            private_ip=private_ip,
            tags={str(k): str(v) for k, v in (vm.get("tags") or {}).items()},
        )
