"""Restores onto a replacement controller VM, found through ARM: by an Event Grid event (queue) or
by an HTTP caller's `instance_id` (the VM's vmId).

ARM is the SDK's own pipeline over a fake transport answering the stored ARM payloads; the
backup is in Azurite and the replacement is the blank controller emulator, reached through
REPLACEMENT_URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from controller_backup.errors import AccessDenied, BadRequest
from controller_backup.stores import open_store
from controller_emulator import Emulator

from .conftest import EVENTS, GROUP, VM_LIST, arm, call, http_request, load_event, queue_message
from .test_function_app import answer, imports

VM_ID = "6e1f3b8a-2c4d-4f5e-9a7b-0c1d2e3f4a5b"
WRITE = "eventgrid_vm_write.json"
START = "eventgrid_vm_start.json"


def deliver(functions: dict[str, Any], name: str) -> Any:
    """The stored Event Grid event `name`, delivered as the queue trigger's message."""
    return call(functions, "replacement_controller", queue_message((EVENTS / name).read_bytes()))


def marker(env: dict[str, str]) -> Any:
    return open_store(f"{env['BACKUP_URL']}.restores/instance-{VM_ID}.json").head()


def untagged() -> dict[str, Any]:
    vm = load_event("arm_vm.json")
    vm["tags"] = {"owner": "network-team"}
    return vm


def other_vm(number: int) -> dict[str, Any]:
    """Another VM in the controller's group (a gateway, a jump host)."""
    vm = load_event("arm_vm.json")
    vm["name"] = f"avx-gateway-{number}"
    vm["id"] = f"{VM_LIST}/avx-gateway-{number}"
    vm["properties"]["vmId"] = f"0c1d2e3f-4a5b-4c6d-8e7f-{number:012d}"
    return vm


@pytest.fixture
def replacement_env(
    azure_env: dict[str, str], blank_controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A backup to restore, the blank emulator as every replacement's address, the group to search."""
    monkeypatch.setenv("REPLACEMENT_URL", blank_controller.url)
    monkeypatch.setenv("REPLACEMENT_RESOURCE_GROUPS", GROUP)
    return azure_env


@dataclass(frozen=True)
class Scene:
    """A controller backed up into Azurite, its blank replacement behind REPLACEMENT_URL, and ARM's
    fake transport (`arm_fake(payloads)` answers them and returns the requests it saw)."""

    functions: dict[str, Any]
    env: dict[str, str]
    controller: Emulator
    blank: Emulator
    arm_fake: Any

    def deliver(self, name: str) -> Any:
        return deliver(self.functions, name)

    def restore(self, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        return answer(call(self.functions, "restore", http_request("http_restore.json", body)))

    def marker(self) -> Any:
        return marker(self.env)

    def restored(self) -> bool:
        return self.blank.export_sha256() == self.controller.export_sha256()


@pytest.fixture
def scene(
    functions: dict[str, Any],
    replacement_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    arm_fake: Any,
) -> Scene:
    status, result = answer(call(functions, "backup", http_request("http_backup.json")))
    assert status == 200, result
    return Scene(functions, replacement_env, controller, blank_controller, arm_fake)


def urls(seen: list[Any]) -> list[str]:
    return [str(r.url) for r in seen]


# -- the event route -------------------------------------------------------------------------


def test_a_tagged_vm_event_restores_once(scene: Scene, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    seen = scene.arm_fake(arm())
    assert scene.deliver(WRITE) is None
    assert scene.restored()
    assert any("networkInterfaces/avx-controller-2-nic" in u for u in urls(seen))
    assert not any("publicIPAddresses" in u for u in urls(seen))  # REPLACEMENT_URL does not need it
    # the same VM's start event (at-least-once delivery, or a reboot) restores nothing again
    done = imports(scene.blank)
    assert scene.deliver(START) is None
    assert imports(scene.blank) == done
    assert '"status": "already-restored"' in caplog.text
    found = scene.marker()
    assert found is not None and found.metadata["status"] == "done"


def test_an_untagged_vm_event_is_ignored_not_retried(scene: Scene, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    seen = scene.arm_fake(arm(untagged()))
    assert scene.deliver(WRITE) is None  # completed: the queue does not deliver it again
    assert "is not a controller replacement, ignored" in caplog.text
    assert "controller-backup-role=replacement" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no failure alert
    assert not scene.blank.requests and scene.marker() is None
    reads = len(seen)
    assert scene.deliver("eventgrid_nic_write.json") is None
    assert len(seen) == reads  # not a VM event: no ARM read at all


def test_a_replacement_url_with_the_public_ip_reads_it_from_arm(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = scene.blank.url.rsplit(":", 1)[1]
    monkeypatch.setenv("REPLACEMENT_URL", f"http://{{public_ip}}:{port}")
    seen = scene.arm_fake(arm(public_ip="127.0.0.1"))
    scene.deliver(WRITE)
    assert scene.restored()
    assert any("publicIPAddresses/avx-controller-pip" in u for u in urls(seen))


def test_a_conflicting_marker_is_logged_as_an_error_not_retried(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The VM was restored at one address; an event now maps it to another: a retry cannot help."""
    scene.arm_fake(arm())
    scene.deliver(WRITE)
    monkeypatch.setenv("REPLACEMENT_URL", "http://127.0.0.1:9")
    caplog.set_level(logging.INFO)
    assert scene.deliver(START) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused [conflict]" in m and "another target" in m for m in errors), errors


def test_a_malformed_queue_message_raises_the_cores_error(
    functions: dict[str, Any], azure_env: dict[str, str]
) -> None:
    with pytest.raises(BadRequest, match="the request body is not JSON"):
        call(functions, "replacement_controller", queue_message(b"not an event"))
    with pytest.raises(BadRequest, match="not an Event Grid event"):
        call(functions, "replacement_controller", queue_message(b'{"id": "x"}'))


def test_arm_forbidden_names_the_role(
    functions: dict[str, Any], azure_env: dict[str, str], arm_fake: Any
) -> None:
    arm_fake(arm(forbidden=True))
    with pytest.raises(AccessDenied, match="Reader"):
        deliver(functions, WRITE)


# -- an HTTP caller's instance_id (the VM's vmId) --------------------------------------------


def test_http_restore_by_vm_id_then_the_vms_event_is_already_restored(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    """Found among the group's VMs (on the list's second page), keyed by ARM's vmId: the event
    that follows for the same VM finds the restore done."""
    seen = scene.arm_fake(arm(pages=[[other_vm(1), other_vm(2)], [load_event("arm_vm.json"), other_vm(3)]]))
    body = {"instance_id": VM_ID.upper()}  # a caller's spelling; the key is ARM's
    status, result = scene.restore(body)
    assert status == 200, result
    assert result["status"] == "ok" and result["target_origin"] == "discovered"
    assert scene.restored()
    assert sum("$skiptoken=1" in u for u in urls(seen)) == 1
    found = scene.marker()
    assert found is not None and found.metadata["status"] == "done"
    done = imports(scene.blank)
    caplog.set_level(logging.INFO)
    scene.deliver(START)
    assert imports(scene.blank) == done and '"status": "already-restored"' in caplog.text


def test_http_restore_by_vm_id_of_an_untagged_vm_is_403(scene: Scene) -> None:
    scene.arm_fake(arm(untagged()))
    status, result = scene.restore()
    assert status == 403 and result["code"] == "forbidden-target", result
    assert "controller-backup-role=replacement" in result["error"]
    assert not scene.blank.requests


@pytest.mark.parametrize(
    ("instance_id", "error", "arm_reads"),
    [
        ("0c1d2e3f-4a5b-4c6d-8e7f-999999999999", "instance_id: no VM with vmId", 1),
        ("i-0abc", "instance_id must be the VM's vmId (a GUID)", 0),
    ],
)
def test_http_restore_by_an_unknown_vm_id_is_400(
    scene: Scene, instance_id: str, error: str, arm_reads: int
) -> None:
    seen = scene.arm_fake(arm())
    body = {"instance_id": instance_id}
    status, result = scene.restore(body)
    assert status == 400 and result["error"].startswith(error), result
    assert len(seen) == arm_reads


@pytest.mark.parametrize(
    ("groups", "error"),
    [
        (None, "REPLACEMENT_RESOURCE_GROUPS is required to find a VM by its vmId"),
        ("rg-aviatrix-controller", "REPLACEMENT_RESOURCE_GROUPS: 'rg-aviatrix-controller' is not a resource"),
        (f"{GROUP}-gone", "REPLACEMENT_RESOURCE_GROUPS: resource group"),
    ],
)
def test_http_restore_by_vm_id_needs_the_resource_groups(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, groups: str | None, error: str
) -> None:
    """A deployment that cannot look VMs up is a 500 naming the setting, not a caller's error."""
    if groups is None:
        monkeypatch.delenv("REPLACEMENT_RESOURCE_GROUPS")
    else:
        monkeypatch.setenv("REPLACEMENT_RESOURCE_GROUPS", groups)
    scene.arm_fake(arm())
    status, result = scene.restore()
    assert status == 500 and result["code"] == "settings" and error in result["error"], result


def test_a_next_link_off_the_arm_endpoint_is_not_followed(scene: Scene) -> None:
    """The bearer token goes to ARM only, whatever a list's nextLink says."""
    seen = scene.arm_fake(
        arm(pages=[[other_vm(1)], [load_event("arm_vm.json")]], next_link_base="https://evil.example")
    )
    status, result = scene.restore()
    assert status == 500 and result["code"] == "store" and "nextLink" in result["error"], result
    assert not any("evil.example" in u for u in urls(seen))


def test_arm_payloads_name_the_vm_the_events_name() -> None:
    """The stored payloads agree with each other (else the tests above would prove nothing)."""
    vm = load_event("arm_vm.json")
    write = load_event(WRITE)
    assert write["data"]["resourceUri"] == vm["id"] and vm["properties"]["vmId"] == VM_ID
    assert (
        vm["id"].startswith(f"{GROUP}/") and load_event("http_restore.json")["body"]["instance_id"] == VM_ID
    )
