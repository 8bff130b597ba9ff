# State addresses from before the secrets, and who reads them, were one block each (keyvault.tf):
# an existing deployment's secrets and role assignments move to their new addresses, none is
# destroyed and created again.
moved {
  from = azurerm_key_vault_secret.controller_password
  to   = azurerm_key_vault_secret.this["controller_password"]
}

moved {
  from = azurerm_key_vault_secret.controller_customer_id[0]
  to   = azurerm_key_vault_secret.this["controller_customer_id"]
}

moved {
  from = azurerm_key_vault_secret.native_arm_client_secret[0]
  to   = azurerm_key_vault_secret.this["native_arm_client_secret"]
}

moved {
  from = azurerm_role_assignment.controller_password["backup"]
  to   = azurerm_role_assignment.secret_reader["controller_password_backup"]
}

moved {
  from = azurerm_role_assignment.controller_password["restore"]
  to   = azurerm_role_assignment.secret_reader["controller_password_restore"]
}

moved {
  from = azurerm_role_assignment.controller_customer_id[0]
  to   = azurerm_role_assignment.secret_reader["controller_customer_id_restore"]
}

moved {
  from = azurerm_role_assignment.native_arm_client_secret[0]
  to   = azurerm_role_assignment.secret_reader["native_arm_client_secret_restore"]
}

# From before the alerts were built from one map of definitions (monitoring.tf).
moved {
  from = azurerm_monitor_scheduled_query_rules_alert_v2.failures
  to   = azurerm_monitor_scheduled_query_rules_alert_v2.this["failures"]
}

moved {
  from = azurerm_monitor_scheduled_query_rules_alert_v2.no_recent_backup
  to   = azurerm_monitor_scheduled_query_rules_alert_v2.this["no_recent_backup"]
}
