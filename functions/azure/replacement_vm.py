"""What Azure Resource Manager says about a VM, as the core's `targets.Instance`.

A restore onto a replacement trusts only ARM, never the event or the caller (docs/design.md,
invariant 9). Two ways in, one answer:

* an Event Grid event for `Microsoft.Compute/virtualMachines/write` or `.../start/action` names
  the VM by its resource id: `GET {vm id}`;
* an HTTP caller names it by `instance_id`, the VM's `properties.vmId` (a GUID new for every VM
  instance, so a VM re-created under the same name is a new replacement: it is the restore's
  idempotency key). ARM has no lookup by vmId, so the VMs of the resource groups in
  `REPLACEMENT_RESOURCE_GROUPS` (the controller's, where the identity already reads for the event
  route) are listed and matched on `properties.vmId`. A list rather than Azure Resource Graph:
  it is consistent the moment ARM created the VM (Resource Graph lags), needs no other role, and
  cannot wander outside the groups the deployment named.

Then `GET {nic id}` of the primary network interface gives the primary IP configuration's
`privateIPAddress` (a fresh controller's admin password), and only when REPLACEMENT_URL uses
`{public_ip}`, `GET {public ip id}` its address. All through azure-core's own pipeline (bearer
token, retries) rather than the much larger azure-mgmt-compute / azure-mgmt-network packages.

The function's identity needs `Reader` on the controller's resource group.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
from controller_backup.errors import (
    AccessDenied,
    BackupError,
    BadRequest,
    ObjectNotFound,
    SettingsError,
    StoreError,
)
from controller_backup.targets import Instance

log = logging.getLogger("controller_backup.azure.replacement")

#: Event Grid event types and ARM operations that announce a VM that is (again) running
EVENT_TYPES = ("Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceActionSuccess")
OPERATIONS = ("Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/start/action")
ARM_ENDPOINT_ENV = "AZURE_RESOURCE_MANAGER_ENDPOINT"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
#: where an HTTP caller's vmId is looked for: resource group ids, comma-separated
RESOURCE_GROUPS_ENV = "REPLACEMENT_RESOURCE_GROUPS"
COMPUTE_API = "2024-07-01"
NETWORK_API = "2024-05-01"
#: a list longer than this many pages is not a controller's resource group
_MAX_PAGES = 50
_SUBSCRIPTION = r"/subscriptions/[0-9a-fA-F-]{36}"
_GROUP = _SUBSCRIPTION + r"/resourceGroups/[-\w.()]{1,90}"
_VM_ID = re.compile(rf"^{_GROUP}/providers/Microsoft\.Compute/virtualMachines/[^/]+$", re.IGNORECASE)
_GROUP_ID = re.compile(rf"^{_GROUP}$", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class VmEvent:
    """The parts of an Event Grid ARM event this function acts on."""

    event_id: str
    event_type: str
    operation: str
    resource_id: str


def parse_event(event: Mapping[str, Any]) -> VmEvent | None:
    """The VM event in a queue message (Event Grid schema), or None when it is not one we act on.

    Raises BadRequest when the message is not an Event Grid event at all.
    """
    data = event.get("data")
    if not isinstance(data, dict):
        raise BadRequest("the queue message is not an Event Grid event (no 'data' object)")
    event_type = str(event.get("eventType", ""))
    operation = str(data.get("operationName", ""))
    resource_id = str(data.get("resourceUri") or event.get("subject") or "")
    if event_type not in EVENT_TYPES or operation.lower() not in (op.lower() for op in OPERATIONS):
        return None
    if str(data.get("status", "Succeeded")) != "Succeeded":
        return None
    if not _VM_ID.match(resource_id):
        raise BadRequest(f"event {str(event.get('id'))[:40]!r}: resourceUri is not a virtual machine id")
    return VmEvent(str(event.get("id", "")), event_type, operation, resource_id)


def resource_groups(raw: str | None) -> tuple[str, ...] | None:
    """REPLACEMENT_RESOURCE_GROUPS: `/subscriptions/<id>/resourceGroups/<name>[, ...]`; None if unset."""
    entries = [entry.strip().rstrip("/") for entry in (raw or "").split(",") if entry.strip()]
    if not entries:
        return None
    bad = [entry[:80] for entry in entries if not _GROUP_ID.match(entry)]
    if bad:
        raise SettingsError(
            f"invalid settings: {RESOURCE_GROUPS_ENV}: {', '.join(repr(b) for b in bad)} is not a resource "
            "group id (/subscriptions/<subscription id>/resourceGroups/<name>)"
        )
    return tuple(entries)


class ArmReader:
    """Just enough of ARM: GET a resource or list a collection as JSON, with the SDK's auth and
    retry policies."""

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
        return self._send(
            HttpRequest("GET", f"{self.endpoint}{resource_id}", params={"api-version": api_version}),
            resource_id,
        )

    def list_collection(self, collection_id: str, api_version: str) -> Iterator[dict[str, Any]]:
        """Every resource of a collection, following `nextLink` (on this endpoint only)."""
        request = HttpRequest("GET", f"{self.endpoint}{collection_id}", params={"api-version": api_version})
        for _ in range(_MAX_PAGES):
            page = self._send(request, collection_id)
            items = page.get("value")
            if not isinstance(items, list):
                raise StoreError(f"ARM list of {collection_id} answered no 'value' list")
            yield from (item for item in items if isinstance(item, dict))
            link = page.get("nextLink")
            if not link:
                return
            if not isinstance(link, str) or not link.startswith(f"{self.endpoint}/"):
                raise StoreError(f"ARM list of {collection_id} answered a nextLink off {self.endpoint}")
            request = HttpRequest("GET", link)
        raise StoreError(f"ARM list of {collection_id} has more than {_MAX_PAGES} pages")

    def _send(self, request: HttpRequest, resource_id: str) -> dict[str, Any]:
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

    # -- VMs -------------------------------------------------------------------------------------

    def instance(self, resource_id: str, *, public_ip: bool = False) -> Instance:
        """The VM at `resource_id` (an event's)."""
        return self._instance(self.get(resource_id, COMPUTE_API), resource_id, public_ip=public_ip)

    def find(self, vm_id: str, groups: tuple[str, ...], *, public_ip: bool = False) -> Instance:
        """The VM whose `properties.vmId` is `vm_id`, in one of `groups` (a caller's instance_id)."""
        if not _GUID.match(vm_id):
            raise BadRequest("instance_id must be the VM's vmId (a GUID)")
        for group in groups:
            try:
                vms = list(
                    self.list_collection(f"{group}/providers/Microsoft.Compute/virtualMachines", COMPUTE_API)
                )
            except ObjectNotFound:
                raise SettingsError(
                    f"invalid settings: {RESOURCE_GROUPS_ENV}: resource group {group} does not exist"
                ) from None
            for vm in vms:
                props = vm.get("properties")
                if isinstance(props, dict) and str(props.get("vmId", "")).lower() == vm_id.lower():
                    resource_id = str(vm.get("id") or "")
                    return self._instance(vm, resource_id, public_ip=public_ip)
        raise BadRequest(f"instance_id: no VM with vmId {vm_id} in {RESOURCE_GROUPS_ENV}")

    def _instance(self, vm: dict[str, Any], resource_id: str, *, public_ip: bool) -> Instance:
        """The VM's vmId, name, tags, and its primary IP configuration's addresses."""
        try:
            props = vm["properties"]
            vm_id = str(props["vmId"])
            nics = props["networkProfile"]["networkInterfaces"]
            nic_ref = next((n for n in nics if (n.get("properties") or {}).get("primary")), nics[0])
            nic = self.get(str(nic_ref["id"]), NETWORK_API)
            configs = nic["properties"]["ipConfigurations"]
            config = next((c for c in configs if (c.get("properties") or {}).get("primary")), configs[0])
            private_ip = str(config["properties"]["privateIPAddress"])
            public_ref = config["properties"].get("publicIPAddress") or {}
        except BackupError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError):
            raise StoreError(
                f"ARM: {resource_id} has no primary network interface with a private IP"
            ) from None
        address = self._public_ip(public_ref) if public_ip else None
        return Instance(
            instance_id=vm_id,
            name=str(vm.get("name") or resource_id.rsplit("/", 1)[-1]),
            private_ip=private_ip,
            public_ip=address,
            tags={str(k): str(v) for k, v in (vm.get("tags") or {}).items()},
        )

    def _public_ip(self, reference: Any) -> str | None:
        """The address of the public IP resource `reference` points to (None: none, or unallocated)."""
        if not isinstance(reference, dict) or not reference.get("id"):
            return None
        address = (self.get(str(reference["id"]), NETWORK_API).get("properties") or {}).get("ipAddress")
        return str(address) if address else None
