resource "azurerm_service_plan" "flex" {
  #checkov:skip=CKV_AZURE_225:Flex Consumption (FC1) places instances per execution; a daily backup delayed by a zone outage is retried and, if still failing, raises the missing-backup alert.
  #checkov:skip=CKV_AZURE_212:A minimum instance count applies to dedicated plans; Flex Consumption starts instances on demand for each trigger.
  name                = "${var.name_prefix}-plan"
  resource_group_name = var.resource_group_name
  location            = var.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azurerm_function_app_flex_consumption" "app" {
  name                = "${var.name_prefix}-controller-backup"
  resource_group_name = var.resource_group_name
  location            = var.location
  service_plan_id     = azurerm_service_plan.flex.id

  storage_container_type      = "blobContainer"
  storage_container_endpoint  = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type = "SystemAssignedIdentity"

  runtime_name           = "python"
  runtime_version        = "3.12"
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = 2048

  https_only                                     = true
  public_network_access_enabled                  = true
  webdeploy_publish_basic_authentication_enabled = false
  virtual_network_subnet_id                      = var.subnet_id
  zip_deploy_file                                = var.package_path
  tags                                           = local.tags

  identity {
    type = "SystemAssigned"
  }

  site_config {
    minimum_tls_version                    = "1.2"
    application_insights_connection_string = azurerm_application_insights.this.connection_string
  }

  app_settings = merge(
    {
      # the host's own storage, through the managed identity (shared keys are off)
      AzureWebJobsStorage__accountName = azurerm_storage_account.host.name
      # Application Insights accepts only Entra ID-authenticated telemetry (local auth is off)
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD"

      # explicit in both modes: the core's own default is native
      CONTROLLER_BACKUP_MODE = var.backup_mode
      CONTROLLER_URL         = var.controller_url
      CONTROLLER_USERNAME    = var.controller_username
      CONTROLLER_PASSWORD    = "azure-kv:${azurerm_key_vault.this.name}/${azurerm_key_vault_secret.controller_password.name}"
      BACKUP_URL             = "azblob://${azurerm_storage_account.backup.name}/${azurerm_storage_container.backups.name}/${var.backup_blob_name}"
      BACKUP_MIN_SIZE_RATIO  = tostring(var.min_size_ratio)
      BACKUP_SCHEDULE        = var.backup_schedule
      # a restore waits up to 25 minutes for a booting controller, inside host.json's 30-minute limit
      CONTROLLER_READY_TIMEOUT   = "1500"
      REPLACEMENT_CONTROLLER_URL = var.replacement_controller_url
      REPLACEMENT_VM_TAG         = var.replacement_vm_tag
    },
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
    var.controller_tls_server_name == null ? {} : { CONTROLLER_TLS_SERVER_NAME = var.controller_tls_server_name },
    local.customer_id_app_settings,
    local.native_app_settings,
    local.max_age_app_settings,
  )

  # native mode's inputs are checked by validations in variables.tf, so a plan fails before
  # anything is created
}

# -- what the function's identity may do: one container, one secret, its own host account --

resource "azurerm_role_assignment" "backup_container" {
  # the backup blob, its versions and the restore markers beside it; nothing else in the account
  scope                = azurerm_storage_container.backups.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}

resource "azurerm_role_assignment" "controller_password" {
  scope                = "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.controller_password.name}"
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}

resource "azurerm_role_assignment" "controller_customer_id" {
  # BYOL only; all functions share the app's identity, and only a restore resolves it
  count                = var.create_customer_id_secret ? 1 : 0
  scope                = "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.controller_customer_id[0].name}"
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}

resource "azurerm_role_assignment" "host_blobs" {
  # identity-based AzureWebJobsStorage: the host's leases, keys and the deployment package
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}

resource "azurerm_role_assignment" "telemetry" {
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}
