# A replacement controller triggers the restore function. With an Auto Scaling group: its launch
# events (and the launch lifecycle action, which the function completes). Without one: every EC2
# instance reaching "running"; the function keeps only those carrying the controller tag.
locals {
  replacement_event_pattern = var.controller_asg_name == null ? {
    source      = ["aws.ec2"]
    detail-type = ["EC2 Instance State-change Notification"]
    detail      = { state = ["running"] }
    } : {
    source      = ["aws.autoscaling"]
    detail-type = ["EC2 Instance Launch Successful", "EC2 Instance-launch Lifecycle Action"]
    detail      = { AutoScalingGroupName = [var.controller_asg_name] }
  }
}

resource "aws_cloudwatch_event_rule" "controller_replaced" {
  name          = "${var.name}-controller-replaced"
  description   = "A replacement controller came up: restore its configuration"
  event_pattern = jsonencode(local.replacement_event_pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "restore" {
  rule = aws_cloudwatch_event_rule.controller_replaced.name
  arn  = aws_lambda_function.this["restore"].arn

  retry_policy {
    maximum_retry_attempts       = 4
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_lambda_permission" "events_invoke_restore" {
  statement_id  = "controller-replaced"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["restore"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.controller_replaced.arn
}

resource "aws_autoscaling_lifecycle_hook" "restore" {
  count                  = var.create_lifecycle_hook && var.controller_asg_name != null ? 1 : 0
  name                   = "${var.name}-restore"
  autoscaling_group_name = var.controller_asg_name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_LAUNCHING"
  # The restore function completes the action itself; a timeout lets the instance continue
  # (unrestored, and the restore's failure alarm fires) rather than cycling replacements.
  heartbeat_timeout = var.restore_timeout_seconds + 300
  default_result    = "CONTINUE"
}
