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

  # The two functions, and all that differs between them (lambda.tf makes one of each from this):
  # the handler (module functions/aws/<file>.py, function `handler`; tests check they exist), the
  # timeout, and the settings only that function gets.
  functions = {
    backup = {
      handler     = "functions.aws.backup_handler.handler"
      description = "Back up the controller's configuration to ${local.backup_url}"
      timeout     = var.backup_timeout_seconds
      environment = { CONTROLLER_READY_TIMEOUT = tostring(local.backup_ready_timeout) }
    }
    restore = {
      handler     = "functions.aws.restore_handler.handler"
      description = "Restore the controller's configuration from ${local.backup_url} onto a replacement"
      timeout     = var.restore_timeout_seconds
      environment = merge(local.replacement_environment, { RESTORE_TIME_LIMIT = tostring(local.restore_time_limit) })
    }
  }

  backup_url = "s3://${aws_s3_bucket.backup.id}/${var.backup_object_name}"
  # The one object, and the restore markers the core keeps beside it (idempotency per instance).
  object_arn  = "${aws_s3_bucket.backup.arn}/${var.backup_object_name}"
  markers_arn = "${aws_s3_bucket.backup.arn}/${var.backup_object_name}.restores/*"
  # the last successful backup's record (stored or unchanged): the backup writes it, restore reads it
  record_arn = "${aws_s3_bucket.backup.arn}/${var.backup_object_name}.last-backup.json"
  # the readiness check's last result: the backup function runs the check and writes it
  verify_record_arn = "${aws_s3_bucket.backup.arn}/${var.backup_object_name}.last-verify.json"

  # -- copies (BACKUP_COPY_URLS): further destinations of every backup, read by a restore when the
  # primary fails. An s3:// copy without a BACKUP_COPY_CREDENTIALS entry is written with the
  # function's own role, which gets the same object permissions on it as on the primary (the
  # copy bucket's policy must allow it too when it is in another account); any other copy is
  # written with the credentials its entry names, which the roles may read when they are in this
  # account's Secrets Manager or Parameter Store.
  copy_environment = merge(
    length(var.copy_urls) == 0 ? {} : { BACKUP_COPY_URLS = join(",", var.copy_urls) },
    length(var.copy_credentials) == 0 ? {} : { BACKUP_COPY_CREDENTIALS = jsonencode(var.copy_credentials) },
  )
  s3_copies               = [for url in var.copy_urls : regex("^s3://([^/]+)/(.+)$", url) if startswith(url, "s3://") && !contains(keys(var.copy_credentials), url)]
  copy_object_arns        = [for copy in local.s3_copies : "arn:${local.partition}:s3:::${copy[0]}/${copy[1]}"]
  copy_bucket_arns        = distinct([for copy in local.s3_copies : "arn:${local.partition}:s3:::${copy[0]}"])
  copy_backup_record_arns = [for arn in local.copy_object_arns : "${arn}.last-backup.json"]
  copy_verify_record_arns = [for arn in local.copy_object_arns : "${arn}.last-verify.json"]
  copy_marker_arns        = [for arn in local.copy_object_arns : "${arn}.restores/*"]
  # a secret reference without its #field; a name becomes this account's ARN (any version suffix)
  copy_secret_names = [for ref in values(var.copy_credentials) : split("#", trimprefix(ref, "aws-sm:"))[0] if startswith(ref, "aws-sm:")]
  copy_secret_arns  = [for name in local.copy_secret_names : startswith(name, "arn:") ? name : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${name}-??????"]
  copy_parameter_arns = [for ref in values(var.copy_credentials) : (
    startswith(ref, "aws-ssm:arn:") ? trimprefix(ref, "aws-ssm:") : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(trimprefix(ref, "aws-ssm:"), "/")}"
  ) if startswith(ref, "aws-ssm:")]

  asg_arn = var.controller_asg_name == null ? null : "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.controller_asg_name}"

  common_environment = {
    # explicit in both modes: the core's own default is native
    CONTROLLER_BACKUP_MODE        = var.backup_mode
    CONTROLLER_URL                = var.controller_url
    CONTROLLER_USERNAME           = var.controller_username
    CONTROLLER_PASSWORD           = "aws-sm:${aws_secretsmanager_secret.this["controller_password"].arn}"
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
    CONTROLLER_CUSTOMER_ID = "aws-sm:${aws_secretsmanager_secret.this["controller_customer_id"].arn}"
  } : {}

  # -- native mode (the default; with backup_mode = "export" none of the following reaches a
  # function or a policy) --
  native_enabled = var.backup_mode == "native"
  # What each function's timeout leaves for its waits, derived here and nowhere else. A backup
  # waits out a controller that is not ready (a reboot, an upgrade) for its timeout less the wait
  # for the controller's own file (native) and 120 s to fetch and store it; a restore's own
  # deadline (RESTORE_TIME_LIMIT) is a minute inside Lambda's, to fail cleanly and complete the
  # lifecycle action.
  backup_ready_timeout = max(30, var.backup_timeout_seconds - (local.native_enabled ? var.native_backup_wait_seconds : 0) - 120)
  restore_time_limit   = var.restore_timeout_seconds - 60
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
      REPLACEMENT_TAG         = var.replacement_tag
      REPLACEMENT_URL         = var.replacement_url
      RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)
    },
    var.replacement_name_pattern == null ? {} : { REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern },
  )
}
