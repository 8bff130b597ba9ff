terraform {
  # 1.11: write-only arguments, so the controller password never lands in the plan or the state.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # azurerm_function_app_flex_consumption, key vault secret value_wo, storage_account_id on
      # containers and queues (management-plane, works with shared keys disabled)
      version = ">= 4.40, < 5.0"
    }
  }
}
