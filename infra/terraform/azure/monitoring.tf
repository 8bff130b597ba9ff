# Failures are loud: a failed function run (a raised timer or queue run, an HTTP 5xx) or an ERROR
# log line raises an alert, and so does a day without a successful backup, which also catches a
# schedule that silently stopped firing.

resource "azurerm_log_analytics_workspace" "logs" {
  name                = "${var.name_prefix}-logs"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

resource "azurerm_application_insights" "this" {
  name                          = "${var.name_prefix}-controller-backup"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  workspace_id                  = azurerm_log_analytics_workspace.logs.id
  application_type              = "other"
  local_authentication_disabled = true
  retention_in_days             = var.log_retention_days
  tags                          = local.tags
}

resource "azurerm_monitor_action_group" "alerts" {
  name                = "${var.name_prefix}-controller-backup-alerts"
  resource_group_name = var.resource_group_name
  short_name          = "ctlbackup"
  tags                = local.tags

  email_receiver {
    name                    = "operators"
    email_address           = var.alert_email
    use_common_alert_schema = true
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "failures" {
  name                 = "${var.name_prefix}-controller-backup-failed"
  resource_group_name  = var.resource_group_name
  location             = var.location
  description          = "A controller backup or restore function failed (raised, answered HTTP 5xx, or logged an error). The stored backup is never replaced by a failed run; the log line names the error code."
  scopes               = [azurerm_application_insights.this.id]
  severity             = 1
  evaluation_frequency = "PT15M"
  window_duration      = "PT15M"
  tags                 = local.tags

  criteria {
    query                   = <<-KQL
      union
        (requests
          | where name in ("${join("\", \"", values(local.functions))}")
          | where success == false and not(resultCode startswith "4")),
        (traces
          | where severityLevel >= 3 and tostring(customDimensions.Category) startswith "Function.")
      | summarize failures = count()
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "failures"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alerts.id]
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "no_recent_backup" {
  name                 = "${var.name_prefix}-controller-backup-missing"
  resource_group_name  = var.resource_group_name
  location             = var.location
  description          = "No successful controller backup in the last 25 hours: the daily run failed or never ran."
  scopes               = [azurerm_application_insights.this.id]
  severity             = 1
  evaluation_frequency = "PT1H"
  # the longest window a log alert takes; the query itself looks back 25 hours
  window_duration = "P2D"
  tags            = local.tags

  criteria {
    query                   = <<-KQL
      traces
      | where timestamp > ago(25h)
      | where message startswith "backup stored " or message startswith "backup unchanged"
      | summarize successes = count()
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "successes"
    operator                = "LessThan"
    threshold               = 1

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alerts.id]
  }
}
