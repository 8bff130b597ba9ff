# Failures are loud: a failed function run (a raised timer or queue run, an HTTP 5xx) or an ERROR
# log line raises an alert, and so does a day without a successful backup, which also catches a
# schedule that silently stopped firing.

resource "azurerm_log_analytics_workspace" "logs" {
  name                = "${var.name}-logs"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

resource "azurerm_application_insights" "this" {
  name                          = "${var.name}-controller-backup"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  workspace_id                  = azurerm_log_analytics_workspace.logs.id
  application_type              = "other"
  local_authentication_disabled = true
  retention_in_days             = var.log_retention_days
  tags                          = local.tags
}

resource "azurerm_monitor_action_group" "alerts" {
  name                = "${var.name}-controller-backup-alerts"
  resource_group_name = var.resource_group_name
  short_name          = "ctlbackup"
  tags                = local.tags

  email_receiver {
    name                    = "operators"
    email_address           = var.alert_email
    use_common_alert_schema = true
  }
}

# Every alert, from one map of definitions: its KQL query over the apps' telemetry, the column
# it measures and when that breaches. A failure alerts within 15 minutes; a missing success
# (a backup, a passing readiness check) is looked for over 25 hours, every hour.
locals {
  # one count of the functions' log lines starting with `line`: any is an alert
  logged_failures = {
    copy_failed   = { line = "backup copy failed", description = "A backup copy failed: the backup is stored, but not in every destination (the log line names the copy and the reason)." }
    verify_failed = { line = "verify failed", description = "The readiness check failed for the backup or a copy (one log line per failed destination names it and the reason)." }
  }
  # one count of the success lines of the last 25 hours: none is an alert
  missing_successes = {
    no_recent_backup = { suffix = "missing", lines = ["backup stored ", "backup unchanged"], description = "No successful controller backup in the last 25 hours: the daily run failed or never ran." }
    no_recent_verify = { suffix = "verify-missing", lines = ["verify passed"], description = "No passing readiness check of the controller backup in the last 25 hours: the daily check failed or never ran." }
  }
  alerts = merge(
    {
      failures = {
        name        = "${var.name}-controller-backup-failed"
        description = "A controller backup or restore function failed (raised, answered HTTP 5xx, or logged an error). The stored backup is never replaced by a failed run; the log line names the error code."
        query       = <<-KQL
          union
            (requests
              | where name in ("${join("\", \"", values(local.functions))}")
              | where success == false and not(resultCode startswith "4")),
            (traces
              | where severityLevel >= 3 and tostring(customDimensions.Category) startswith "Function.")
          | summarize failures = count()
        KQL
        missing     = false
      }
    },
    { for key, failure in local.logged_failures : key => {
      name        = "${var.name}-controller-backup-${replace(key, "_", "-")}"
      description = failure.description
      query       = <<-KQL
        traces
        | where message startswith "${failure.line}"
        | summarize failures = count()
      KQL
      missing     = false
    } },
    { for key, success in local.missing_successes : key => {
      name        = "${var.name}-controller-backup-${success.suffix}"
      description = success.description
      query       = <<-KQL
        traces
        | where timestamp > ago(25h)
        | where ${join(" or ", [for line in success.lines : "message startswith \"${line}\""])}
        | summarize successes = count()
      KQL
      missing     = true
    } },
  )
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "this" {
  for_each             = local.alerts
  name                 = each.value.name
  resource_group_name  = var.resource_group_name
  location             = var.location
  description          = each.value.description
  scopes               = [azurerm_application_insights.this.id]
  severity             = 1
  evaluation_frequency = each.value.missing ? "PT1H" : "PT15M"
  # a missing success: the longest window a log alert takes (the query itself looks back 25 hours)
  window_duration = each.value.missing ? "P2D" : "PT15M"
  tags            = local.tags

  criteria {
    query                   = each.value.query
    time_aggregation_method = "Total"
    metric_measure_column   = each.value.missing ? "successes" : "failures"
    operator                = each.value.missing ? "LessThan" : "GreaterThan"
    threshold               = each.value.missing ? 1 : 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alerts.id]
  }
}
