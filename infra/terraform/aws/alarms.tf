resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.backup.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# Who may send to the alarm topic and to the dead-letter queue (schedule.tf): one AWS service
# each, and only on behalf of this deployment (this account's alarms, the replacement rule).
locals {
  senders = {
    alarms_topic = {
      sid      = "CloudWatchAlarmsPublish"
      action   = "sns:Publish"
      resource = aws_sns_topic.alarms.arn
      service  = "cloudwatch.amazonaws.com"
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      value    = local.account_id
    }
    dlq = {
      sid      = "EventRuleDeadLetters"
      action   = "sqs:SendMessage"
      resource = aws_sqs_queue.dlq.arn
      service  = "events.amazonaws.com"
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      value    = aws_cloudwatch_event_rule.controller_replaced.arn
    }
  }
}

data "aws_iam_policy_document" "sender" {
  for_each = local.senders
  statement {
    sid       = each.value.sid
    actions   = [each.value.action]
    resources = [each.value.resource]
    principals {
      type        = "Service"
      identifiers = [each.value.service]
    }
    condition {
      test     = each.value.test
      variable = each.value.variable
      values   = [each.value.value]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.sender["alarms_topic"].json
}

# Every alarm, from one map of definitions: what differs is the metric it watches and when that
# breaches. Each notifies the topic; one that watches for something missing (a backup that did not
# succeed) counts every period without a data point as breaching, so a function that never runs at
# all alarms too, and notifies its recovery as well.
locals {
  # a count of failures the functions report (Powertools metrics, service dimension): any is an alarm
  reported_failures = {
    restore_failed = { metric = "RestoreFailed", description = "A controller restore failed (see the restore function's logs)" }
    copy_failed    = { metric = "CopyFailed", description = "A backup copy failed: the backup is stored, but not in every destination (see the backup function's logs)" }
    verify_failed  = { metric = "VerifyFailed", description = "The readiness check failed for the backup or a copy (see the backup function's logs)" }
  }
  # a success the functions report, hourly: none for that many hours is an alarm (the readiness
  # check runs daily, so 25 hours without a passing one)
  missing_successes = {
    no_recent_backup = { metric = "BackupSucceeded", hours = var.backup_max_age_hours, suffix = "no-successful-backup", description = "No controller backup has succeeded in ${var.backup_max_age_hours} hours" }
    no_recent_verify = { metric = "BackupVerified", hours = 25, suffix = "no-passed-verify", description = "No readiness check of the controller backup has passed in 25 hours" }
  }
  # what an alarm is unless its definition says otherwise: any count the functions report in
  # five minutes
  alarm_defaults = {
    namespace  = var.metrics_namespace
    dimensions = { service = var.name }
    statistic  = "Sum"
    period     = 300
    periods    = 1
    missing    = false
  }
  alarms = merge(
    { for key, success in local.missing_successes : key => merge(local.alarm_defaults, {
      name        = "${var.name}-${success.suffix}"
      description = success.description
      metric      = success.metric
      period      = 3600
      periods     = success.hours
      missing     = true
    }) },
    {
      dead_letters = merge(local.alarm_defaults, {
        name        = "${var.name}-dead-letters"
        description = "A scheduled backup or a restore event could not be delivered or kept failing"
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = aws_sqs_queue.dlq.name }
        statistic   = "Maximum"
      })
    },
    { for key, failure in local.reported_failures : key => merge(local.alarm_defaults, {
      name        = "${var.name}-${replace(key, "_", "-")}"
      description = failure.description
      metric      = failure.metric
    }) },
    { for job in keys(local.functions) : "${job}_errors" => merge(local.alarm_defaults, {
      name        = "${var.name}-${job}-errors"
      description = "The ${job} function failed"
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = "${var.name}-${job}" }
    }) },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.missing ? each.value.periods : null
  comparison_operator = each.value.missing ? "LessThanThreshold" : "GreaterThanThreshold"
  threshold           = each.value.missing ? 1 : 0
  treat_missing_data  = each.value.missing ? "breaching" : "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = each.value.missing ? [aws_sns_topic.alarms.arn] : []
  tags                = var.tags
}
