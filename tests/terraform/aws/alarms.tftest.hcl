# What tells the operator something went wrong: the alarms, their topic and the dead-letter queue.

run "defaults" {
  command = plan

  # No successful backup for 25 hours: every hour without a BackupSucceeded data point counts as
  # breaching, so a function that never runs at all alarms too.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["no_recent_backup"].metric_name == "BackupSucceeded"
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].threshold == 1
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].treat_missing_data == "breaching"
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].evaluation_periods * aws_cloudwatch_metric_alarm.this["no_recent_backup"].period == 25 * 3600
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].datapoints_to_alarm == aws_cloudwatch_metric_alarm.this["no_recent_backup"].evaluation_periods
    )
    error_message = "no successful backup in 25 hours (every hour of them, missing data included) must alarm"
  }

  # the functions' metrics carry the namespace and the service dimension (Powertools) it watches
  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      aws_cloudwatch_metric_alarm.this["no_recent_backup"].namespace == fn.environment[0].variables.POWERTOOLS_METRICS_NAMESPACE
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].dimensions == tomap({ service = fn.environment[0].variables.POWERTOOLS_SERVICE_NAME })
      && aws_cloudwatch_metric_alarm.this["restore_failed"].namespace == fn.environment[0].variables.POWERTOOLS_METRICS_NAMESPACE
      && aws_cloudwatch_metric_alarm.this["restore_failed"].dimensions == tomap({ service = fn.environment[0].variables.POWERTOOLS_SERVICE_NAME })
    ]) && aws_cloudwatch_metric_alarm.this["no_recent_backup"].namespace == "ControllerBackup"
    error_message = "the alarms must watch the namespace and service the functions report under"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["restore_failed"].metric_name == "RestoreFailed"
      && aws_cloudwatch_metric_alarm.this["restore_failed"].comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.this["restore_failed"].threshold == 0
    )
    error_message = "a failed restore alarms"
  }

  assert {
    condition = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => [alarm.alarm_name, alarm.metric_name, alarm.dimensions.FunctionName, alarm.comparison_operator, alarm.threshold] if alarm.namespace == "AWS/Lambda" } == {
      backup_errors  = ["aviatrix-ctrl-backup-backup-errors", "Errors", "aviatrix-ctrl-backup-backup", "GreaterThanThreshold", 0]
      restore_errors = ["aviatrix-ctrl-backup-restore-errors", "Errors", "aviatrix-ctrl-backup-restore", "GreaterThanThreshold", 0]
    }
    error_message = "each function's errors alarm"
  }

  # every alarm's evaluation, so a definition that falls back on the shared defaults by mistake shows
  assert {
    condition = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => [alarm.statistic, alarm.period, alarm.evaluation_periods, alarm.treat_missing_data] } == {
      no_recent_backup = ["Sum", 3600, 25, "breaching"]
      no_recent_verify = ["Sum", 3600, 25, "breaching"]
      dead_letters     = ["Maximum", 300, 1, "notBreaching"]
      restore_failed   = ["Sum", 300, 1, "notBreaching"]
      copy_failed      = ["Sum", 300, 1, "notBreaching"]
      verify_failed    = ["Sum", 300, 1, "notBreaching"]
      backup_errors    = ["Sum", 300, 1, "notBreaching"]
      restore_errors   = ["Sum", 300, 1, "notBreaching"]
    }
    error_message = "each alarm's statistic, period, periods and missing-data treatment"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["dead_letters"].namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.this["dead_letters"].metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.this["dead_letters"].dimensions == tomap({ QueueName = "aviatrix-ctrl-backup-dead-letters" })
      && aws_cloudwatch_metric_alarm.this["dead_letters"].threshold == 0
    )
    error_message = "a dead letter in the queue alarms"
  }

  assert {
    condition = alltrue([
      for alarm in values(aws_cloudwatch_metric_alarm.this) : alarm.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:alarms"])
    ]) && aws_cloudwatch_metric_alarm.this["no_recent_backup"].ok_actions == toset(["arn:aws:sns:us-east-1:123456789012:alarms"])
    error_message = "every alarm notifies the alarm topic (and the missing backup's recovery too)"
  }

  assert {
    condition = (
      aws_sns_topic.alarms.kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/backup"
      && length(aws_sns_topic_subscription.email) == 0
      && aws_sqs_queue.dlq.kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/backup"
      && aws_sqs_queue.dlq.message_retention_seconds == 1209600
    )
    error_message = "the topic and the dead-letter queue are encrypted, the queue keeps messages 14 days, and nobody is subscribed to the topic unless alert_email is set"
  }

  # one sender each: this account's CloudWatch publishes to the topic, the replacement rule's
  # events go to the queue
  assert {
    condition = jsonencode({ for key, d in data.aws_iam_policy_document.sender : key => [for s in d.statement : [s.effect, s.actions, s.resources, s.principals, s.condition]] }) == jsonencode({
      alarms_topic = [[
        "Allow",
        ["sns:Publish"],
        ["arn:aws:sns:us-east-1:123456789012:alarms"],
        [{ identifiers = ["cloudwatch.amazonaws.com"], type = "Service" }],
        [{ test = "StringEquals", values = ["123456789012"], variable = "aws:SourceAccount" }],
      ]]
      dlq = [[
        "Allow",
        ["sqs:SendMessage"],
        ["arn:aws:sqs:us-east-1:123456789012:dead-letters"],
        [{ identifiers = ["events.amazonaws.com"], type = "Service" }],
        [{ test = "ArnEquals", values = ["arn:aws:events:us-east-1:123456789012:rule/controller-replaced"], variable = "aws:SourceArn" }],
      ]]
    })
    error_message = "only this account's CloudWatch may publish to the topic, only the replacement rule's events may send to the queue"
  }

  assert {
    condition     = aws_sns_topic_policy.alarms.arn == "arn:aws:sns:us-east-1:123456789012:alarms" && aws_sqs_queue_policy.dlq.queue_url == "https://sqs.example/dead-letters"
    error_message = "the topic's and the queue's policies are theirs"
  }
}

run "two_days_another_namespace_and_an_email" {
  command = plan

  variables {
    backup_max_age_hours = 48
    metrics_namespace    = "Acme/ControllerBackup"
    alert_email          = "ops@example.com"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["no_recent_backup"].evaluation_periods == 48
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].datapoints_to_alarm == 48
      && aws_cloudwatch_metric_alarm.this["no_recent_backup"].namespace == "Acme/ControllerBackup"
      && aws_lambda_function.this["backup"].environment[0].variables.POWERTOOLS_METRICS_NAMESPACE == "Acme/ControllerBackup"
    )
    error_message = "backup_max_age_hours and metrics_namespace reach the alarm and the functions"
  }

  assert {
    condition = (
      aws_sns_topic_subscription.email[0].protocol == "email"
      && aws_sns_topic_subscription.email[0].endpoint == "ops@example.com"
      && aws_sns_topic_subscription.email[0].topic_arn == "arn:aws:sns:us-east-1:123456789012:alarms"
    )
    error_message = "alert_email is subscribed to the alarm topic"
  }
}
