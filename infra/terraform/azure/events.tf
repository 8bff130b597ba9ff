# "A replacement controller VM is running": ARM events of the controller's resource group go
# through Event Grid into a storage queue, and the queue-triggered function restores. A queue,
# not a direct Event Grid trigger, because Event Grid retries a delivery after 30 s while a
# restore waits minutes for a booting controller; the queue hands the message to one instance
# at a time, retries a failure (host.json maxDequeueCount) and then parks it in the poison queue.

resource "azurerm_storage_queue" "replacements" {
  count              = local.events_enabled ? 1 : 0
  name               = local.replacement_queue
  storage_account_id = azurerm_storage_account.host["restore"].id
}

resource "azurerm_storage_queue" "replacements_poison" {
  count              = local.events_enabled ? 1 : 0
  name               = "${local.replacement_queue}-poison"
  storage_account_id = azurerm_storage_account.host["restore"].id
}

resource "azurerm_eventgrid_system_topic" "controller_group" {
  count = local.events_enabled ? 1 : 0
  name  = "${var.name}-controller-rg-events"
  # a resource group's system topic lives in that resource group, at the "Global" location
  resource_group_name = element(split("/", var.controller_resource_group_id), 4)
  location            = "Global"
  source_resource_id  = var.controller_resource_group_id
  topic_type          = "Microsoft.Resources.ResourceGroups"
  tags                = local.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_role_assignment" "events_to_queue" {
  count                = local.events_enabled ? 1 : 0
  scope                = azurerm_storage_queue.replacements[0].id
  role_definition_name = "Storage Queue Data Message Sender"
  principal_id         = azurerm_eventgrid_system_topic.controller_group[0].identity[0].principal_id
}

resource "azurerm_eventgrid_system_topic_event_subscription" "replacement_vm" {
  count               = local.events_enabled ? 1 : 0
  name                = "replacement-controller-vm"
  system_topic        = azurerm_eventgrid_system_topic.controller_group[0].name
  resource_group_name = azurerm_eventgrid_system_topic.controller_group[0].resource_group_name

  included_event_types = [
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceActionSuccess",
  ]

  advanced_filter {
    string_in {
      key = "data.operationName"
      values = [
        "Microsoft.Compute/virtualMachines/write",
        "Microsoft.Compute/virtualMachines/start/action",
      ]
    }
  }

  storage_queue_endpoint {
    storage_account_id                    = azurerm_storage_account.host["restore"].id
    queue_name                            = azurerm_storage_queue.replacements[0].name
    queue_message_time_to_live_in_seconds = 86400
  }

  delivery_identity {
    type = "SystemAssigned"
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  depends_on = [azurerm_role_assignment.events_to_queue]
}

# The restore app's queue trigger reads and deletes messages on the event queue (in its own host
# account), and writes the poison queue. The backup identity gets none of this.
resource "azurerm_role_assignment" "function_reads_queue" {
  count                = local.events_enabled ? 1 : 0
  scope                = azurerm_storage_queue.replacements[0].id
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = local.principals["restore"]
}

resource "azurerm_role_assignment" "function_writes_poison" {
  count                = local.events_enabled ? 1 : 0
  scope                = azurerm_storage_queue.replacements_poison[0].id
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = local.principals["restore"]
}

# The restore function reads the event's VM and its network interface (vmId, name, tags, IPs).
resource "azurerm_role_assignment" "read_controller_vms" {
  count                = local.events_enabled ? 1 : 0
  scope                = var.controller_resource_group_id
  role_definition_name = "Reader"
  principal_id         = local.principals["restore"]
}
