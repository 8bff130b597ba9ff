# Key Vault with Azure RBAC (no access policies). Each app's identity may read exactly the secrets
# it needs, each on its own; Terraform's own principal may write them.

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:The Flex Consumption function reads the secret over the public endpoint unless subnet_id adds VNet integration; access is RBAC-scoped to one secret.
  #checkov:skip=CKV_AZURE_109:A default-deny firewall would block the function, whose outbound addresses are not fixed on Flex Consumption without VNet integration.
  #checkov:skip=CKV2_AZURE_32:Private endpoints need a VNet the module does not own.
  name                          = local.vault_name
  resource_group_name           = var.resource_group_name
  location                      = var.location
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = local.tags

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }
}

resource "azurerm_role_assignment" "deployer_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

# The module's secrets, each written write-only (in neither the plan nor the state; bump its
# *_version input to write a new value) and read by the apps through an azure-kv: reference: the
# controller password; with create_customer_id_secret (BYOL licence), the controller's customer id,
# which a restore sends to a replacement before its set-up; in native mode, the access account's
# client secret (setup_account_profile, restore_cloudx_config).
locals {
  secrets = merge(
    { controller_password = { name = local.secret_name, version = var.controller_password_version } },
    var.create_customer_id_secret ? {
      controller_customer_id = { name = local.customer_id_secret, version = var.controller_customer_id_version }
    } : {},
    local.native_enabled ? {
      native_arm_client_secret = { name = local.native_secret_name, version = var.native_arm_client_secret_version }
    } : {},
  )
  # ephemeral: only a write-only argument reads them
  secret_values = {
    controller_password      = var.controller_password
    controller_customer_id   = var.controller_customer_id
    native_arm_client_secret = var.native_arm_client_secret
  }
  # who reads which (Key Vault Secrets User on that one secret): both apps the password, only the
  # restore app the others
  secret_readers = merge(
    { for job in keys(local.apps) : "controller_password_${job}" => { secret = "controller_password", job = job } },
    { for secret in ["controller_customer_id", "native_arm_client_secret"] : "${secret}_restore" => {
      secret = secret
      job    = "restore"
    } if contains(keys(local.secrets), secret) },
  )
  # The credentials of a copy (copy_credentials) kept in this vault, which the deployer writes
  # outside Terraform: both apps read exactly those secrets (the backup writes the copy, a restore
  # falls back to it). A secret in another vault is granted there by its owner.
  copy_credential_secrets = distinct([
    for ref in values(var.copy_credentials) : split("/", trimprefix(ref, "azure-kv:"))[1]
    if startswith(ref, "azure-kv:${local.vault_name}/")
  ])
  copy_credential_readers = {
    for pair in setproduct(keys(local.apps), local.copy_credential_secrets) : "${pair[0]}/${pair[1]}" => {
      job  = pair[0]
      name = pair[1]
    }
  }
}

resource "azurerm_key_vault_secret" "this" {
  #checkov:skip=CKV_AZURE_41:Each secret rotates on its owner's schedule (the controller's password, Aviatrix's licence id, Entra ID's client secret), not Key Vault's; an expiry date would only break a backup or a restore on the day it is needed. Rotation is by its *_version input.
  for_each         = local.secrets
  name             = each.value.name
  key_vault_id     = azurerm_key_vault.this.id
  value_wo         = local.secret_values[each.key]
  value_wo_version = each.value.version
  content_type     = "text/plain"
  tags             = local.tags

  depends_on = [azurerm_role_assignment.deployer_secrets_officer]
}

resource "azurerm_role_assignment" "secret_reader" {
  for_each             = local.secret_readers
  scope                = "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.this[each.value.secret].name}"
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.principals[each.value.job]
}

resource "azurerm_role_assignment" "copy_credentials" {
  for_each             = local.copy_credential_readers
  scope                = "${azurerm_key_vault.this.id}/secrets/${each.value.name}"
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.principals[each.value.job]
}
