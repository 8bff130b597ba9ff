# Key Vault with Azure RBAC (no access policies). The function's identity may read exactly one
# secret; Terraform's own principal may write it.

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:The Flex Consumption function reads the secret over the public endpoint unless subnet_id adds VNet integration; access is RBAC-scoped to one secret.
  #checkov:skip=CKV_AZURE_109:A default-deny firewall would block the function, whose outbound addresses are not fixed on Flex Consumption without VNet integration.
  #checkov:skip=CKV2_AZURE_32:Private endpoints need a VNet the module does not own.
  name                          = "${var.name}-kv"
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

resource "azurerm_key_vault_secret" "controller_password" {
  #checkov:skip=CKV_AZURE_41:The controller password rotates on the controller's schedule, not Key Vault's; an expiry date would silently stop every backup. Rotation is by controller_password_version.
  name             = local.secret_name
  key_vault_id     = azurerm_key_vault.this.id
  value_wo         = var.controller_password
  value_wo_version = var.controller_password_version
  content_type     = "text/plain"
  tags             = local.tags

  depends_on = [azurerm_role_assignment.deployer_secrets_officer]
}

# BYOL licence only (create_customer_id_secret): the controller's customer id, which a restore sends
# to a replacement before its set-up. Written like the password: write-only, never in the state.
resource "azurerm_key_vault_secret" "controller_customer_id" {
  #checkov:skip=CKV_AZURE_41:The customer id is the controller's licence identifier from Aviatrix; an expiry date would only break a restore on the day it is needed. Rotation is by controller_customer_id_version.
  count            = var.create_customer_id_secret ? 1 : 0
  name             = local.customer_id_secret
  key_vault_id     = azurerm_key_vault.this.id
  value_wo         = var.controller_customer_id
  value_wo_version = var.controller_customer_id_version
  content_type     = "text/plain"
  tags             = local.tags

  depends_on = [azurerm_role_assignment.deployer_secrets_officer]
}
