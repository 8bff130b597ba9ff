# Serverless backup and restore of an Aviatrix controller's configuration into one S3 object.
# Two functions share one package: backup (daily schedule, direct invoke, Function URL) and restore
# (replacement-controller events, direct invoke, Function URL).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  backup_function_name  = "${var.name}-backup"
  restore_function_name = "${var.name}-restore"

  # Handler paths: module functions/aws/<file>.py, function `handler` (tests check they exist).
  backup_handler  = "functions.aws.backup_handler.handler"
  restore_handler = "functions.aws.restore_handler.handler"

  backup_url = "s3://${aws_s3_bucket.backup.id}/${var.object_key}"
  # The one object, and the restore markers the core keeps beside it (idempotency per instance).
  object_arn  = "${aws_s3_bucket.backup.arn}/${var.object_key}"
  markers_arn = "${aws_s3_bucket.backup.arn}/${var.object_key}.restores/*"

  asg_arn = var.controller_asg_name == null ? null : "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.controller_asg_name}"

  common_environment = {
    CONTROLLER_URL                = var.controller_url
    CONTROLLER_USERNAME           = var.controller_username
    CONTROLLER_PASSWORD           = "aws-sm:${aws_secretsmanager_secret.controller_password.arn}"
    CONTROLLER_VERIFY_TLS         = var.controller_verify_tls ? "true" : "false"
    BACKUP_URL                    = local.backup_url
    BACKUP_KMS_KEY_ID             = aws_kms_key.backup.arn
    BACKUP_MIN_SIZE_RATIO         = tostring(var.backup_min_size_ratio)
    POWERTOOLS_SERVICE_NAME       = var.name
    POWERTOOLS_METRICS_NAMESPACE  = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL          = var.log_level
    POWERTOOLS_TRACE_DISABLED     = var.enable_tracing ? "false" : "true"
    POWERTOOLS_PARAMETERS_MAX_AGE = "5"
  }
  ca_environment = var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle }
}
