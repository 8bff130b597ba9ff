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
  # the last successful backup's record (stored or unchanged): the backup writes it, restore reads it
  record_arn = "${aws_s3_bucket.backup.arn}/${var.object_key}.last-backup.json"

  asg_arn = var.controller_asg_name == null ? null : "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.controller_asg_name}"

  common_environment = {
    # explicit in both modes: the core's own default is native
    CONTROLLER_BACKUP_MODE        = var.backup_mode
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
  ca_environment = merge(
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
    var.controller_tls_server_name == null ? {} : { CONTROLLER_TLS_SERVER_NAME = var.controller_tls_server_name },
  )
  # BYOL: a reference to the customer id secret (either mode); only the restore role may read it
  customer_id_environment = var.create_customer_id_secret ? {
    CONTROLLER_CUSTOMER_ID = "aws-sm:${aws_secretsmanager_secret.controller_customer_id[0].arn}"
  } : {}

  # -- native mode (the default; with backup_mode = "export" none of the following reaches a
  # function or a policy) --
  native_enabled = var.backup_mode == "native"
  # The backup's wait for a controller that is not ready (a reboot, an upgrade): the function's
  # timeout less the wait for the controller's own file (native) and 120 s to fetch and store it.
  backup_ready_timeout = max(30, var.backup_timeout_seconds - (local.native_enabled ? var.native_backup_wait_seconds : 0) - 120)
  native_cloud_type = coalesce(var.native_cloud_type, lookup(
    { "aws" = "aws", "aws-us-gov" = "aws-gov", "aws-cn" = "aws-china" }, local.partition, "aws"
  ))
  # The controller's bucket, and the only objects in it the functions may touch: the files the
  # controller names CloudN_<private ip>_save_cloudx_config.enc / ..._version.txt.
  native_bucket_arn  = "arn:${local.partition}:s3:::${coalesce(var.native_bucket_name, "-")}"
  native_objects_arn = "arn:${local.partition}:s3:::${coalesce(var.native_bucket_name, "-")}/CloudN_*"

  native_environment = local.native_enabled ? merge(
    {
      CONTROLLER_PRIVATE_IP     = coalesce(var.controller_private_ip, "-")
      NATIVE_CLOUD_TYPE         = local.native_cloud_type
      NATIVE_ACCOUNT_NAME       = coalesce(var.native_account_name, "-")
      NATIVE_BUCKET_URL         = "s3://${coalesce(var.native_bucket_name, "-")}"
      NATIVE_BACKUP_WAIT        = tostring(var.native_backup_wait_seconds)
      NATIVE_AWS_ACCOUNT_NUMBER = coalesce(var.native_aws_account_number, local.account_id)
    },
    var.native_aws_role_app == null ? {} : { NATIVE_AWS_ROLE_APP = var.native_aws_role_app },
    var.native_aws_role_ec2 == null ? {} : { NATIVE_AWS_ROLE_EC2 = var.native_aws_role_ec2 },
  ) : {}
  max_age_environment = var.restore_max_backup_age == null ? {} : { RESTORE_MAX_BACKUP_AGE = var.restore_max_backup_age }

  # The restore function only: which instance counts as a replacement, how to reach it, and which
  # other targets a restore caller may name (none by default).
  replacement_environment = merge(
    {
      REPLACEMENT_TAG         = "${var.controller_tag_key}=${var.controller_tag_value}"
      REPLACEMENT_URL         = var.replacement_url
      RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)
    },
    var.replacement_name_pattern == null ? {} : { REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern },
  )
}
