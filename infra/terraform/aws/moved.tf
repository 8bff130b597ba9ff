# State addresses from before the two functions shared one block each (for_each over
# local.functions): an existing deployment's functions, roles, log groups, URLs and retry settings
# move to their new addresses, none is destroyed and created again.
moved {
  from = aws_lambda_function.backup
  to   = aws_lambda_function.this["backup"]
}

moved {
  from = aws_lambda_function.restore
  to   = aws_lambda_function.this["restore"]
}

moved {
  from = aws_iam_role.backup
  to   = aws_iam_role.function["backup"]
}

moved {
  from = aws_iam_role.restore
  to   = aws_iam_role.function["restore"]
}

moved {
  from = aws_cloudwatch_log_group.backup
  to   = aws_cloudwatch_log_group.function["backup"]
}

moved {
  from = aws_cloudwatch_log_group.restore
  to   = aws_cloudwatch_log_group.function["restore"]
}

moved {
  from = aws_lambda_function_event_invoke_config.backup
  to   = aws_lambda_function_event_invoke_config.this["backup"]
}

moved {
  from = aws_lambda_function_event_invoke_config.restore
  to   = aws_lambda_function_event_invoke_config.this["restore"]
}

moved {
  from = aws_lambda_function_url.backup
  to   = aws_lambda_function_url.this["backup"]
}

moved {
  from = aws_lambda_function_url.restore
  to   = aws_lambda_function_url.this["restore"]
}

# From before the alarms were built from one map of definitions (alarms.tf).
moved {
  from = aws_cloudwatch_metric_alarm.no_recent_backup
  to   = aws_cloudwatch_metric_alarm.this["no_recent_backup"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letters
  to   = aws_cloudwatch_metric_alarm.this["dead_letters"]
}

moved {
  from = aws_cloudwatch_metric_alarm.restore_failed
  to   = aws_cloudwatch_metric_alarm.this["restore_failed"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["backup"]
  to   = aws_cloudwatch_metric_alarm.this["backup_errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["restore"]
  to   = aws_cloudwatch_metric_alarm.this["restore_errors"]
}

# From before each kind of role policy was one block for both functions (iam.tf).
moved {
  from = aws_iam_role_policy.backup
  to   = aws_iam_role_policy.function["backup"]
}

moved {
  from = aws_iam_role_policy.restore
  to   = aws_iam_role_policy.function["restore"]
}

moved {
  from = aws_iam_role_policy.backup_native[0]
  to   = aws_iam_role_policy.native["backup"]
}

moved {
  from = aws_iam_role_policy.restore_native[0]
  to   = aws_iam_role_policy.native["restore"]
}

moved {
  from = aws_iam_policy.invoke_backup
  to   = aws_iam_policy.invoke["backup"]
}

moved {
  from = aws_iam_policy.invoke_restore
  to   = aws_iam_policy.invoke["restore"]
}

# From before the daily readiness check had a schedule beside the backup's (schedule.tf).
moved {
  from = aws_scheduler_schedule.backup
  to   = aws_scheduler_schedule.this["backup"]
}

# State addresses from before the two secrets shared one block (for_each over local.secrets):
# an existing deployment's secrets move to their new addresses, none is destroyed and created
# again (a new one would take a new name and lose the stored value).
moved {
  from = aws_secretsmanager_secret.controller_password
  to   = aws_secretsmanager_secret.this["controller_password"]
}

moved {
  from = aws_secretsmanager_secret.controller_customer_id[0]
  to   = aws_secretsmanager_secret.this["controller_customer_id"]
}
