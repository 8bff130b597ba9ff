# A real `terraform plan` of the AWS module (infra/terraform/aws), run by
# tests/aws/test_terraform.py::test_a_real_plan_gives_each_function_what_the_contract_says through
# `terraform test`: the real AWS provider (from the local plugin mirror) plans every resource,
# offline. The provider is configured with dummy credentials and never calls AWS: the account,
# partition and region are overridden, and so are the computed ARNs the functions' settings and
# permissions are built from, so the assertions below see real, known planned values.

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

override_data {
  target = data.aws_caller_identity.current
  values = { account_id = "123456789012" }
}

override_data {
  target = data.aws_partition.current
  values = { partition = "aws" }
}

override_data {
  target = data.aws_region.current
  values = { name = "us-east-1" }
}

override_resource {
  target          = aws_s3_bucket.backup
  override_during = plan
  values          = { arn = "arn:aws:s3:::acme-controller-backups", id = "acme-controller-backups" }
}

override_resource {
  target          = aws_secretsmanager_secret.controller_password
  override_during = plan
  values          = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:password" }
}

override_resource {
  target          = aws_kms_key.backup
  override_during = plan
  values          = { arn = "arn:aws:kms:us-east-1:123456789012:key/backup", key_id = "backup" }
}

override_resource {
  target          = aws_sqs_queue.dlq
  override_during = plan
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:dead-letters", id = "https://sqs.example/dlq", name = "dead-letters" }
}

override_resource {
  target          = aws_lambda_function.this["backup"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup" }
}

override_resource {
  target          = aws_lambda_function.this["restore"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-restore" }
}

variables {
  name                  = "aviatrix-ctrl-backup"
  controller_url        = "https://10.0.1.25"
  bucket_name           = "acme-controller-backups"
  controller_private_ip = "10.0.1.25"
  native_bucket_name    = "acme-controller-own-backups"
  native_account_name   = "backup-account"
  backup_invokers       = ["arn:aws:iam::111111111111:role/backup-ops", "arn:aws:iam::111111111111:role/nightly"]
  restore_invokers      = ["arn:aws:iam::222222222222:role/restore-ops"]
}

run "defaults" {
  command = plan

  assert {
    condition = jsondecode(aws_scheduler_schedule.backup.target[0].input) == {
      action         = "backup"
      trigger        = "schedule"
      scheduled_time = "<aws.scheduler.scheduled-time>"
    }
    error_message = "the schedule must send exactly the scheduled-backup input, got ${aws_scheduler_schedule.backup.target[0].input}"
  }

  assert {
    condition = {
      for k, v in aws_lambda_function.this["restore"].environment[0].variables : k => v
      if contains(["REPLACEMENT_TAG", "REPLACEMENT_URL", "REPLACEMENT_NAME_PATTERN", "RESTORE_ALLOWED_TARGETS"], k)
      } == {
      REPLACEMENT_TAG         = "Name=AviatrixController"
      REPLACEMENT_URL         = "https://{private_ip}"
      RESTORE_ALLOWED_TARGETS = ""
    }
    error_message = "the restore function's replacement settings by default"
  }

  assert {
    condition     = aws_lambda_function.this["backup"].environment[0].variables["CONTROLLER_READY_TIMEOUT"] == "180"
    error_message = "a native backup waits out a rebooting controller for 600 - 300 - 120 = 180 s, inside its timeout"
  }

  assert {
    condition = (
      aws_lambda_function.this["restore"].environment[0].variables["RESTORE_TIME_LIMIT"] == "840"
      && !contains(keys(aws_lambda_function.this["backup"].environment[0].variables), "RESTORE_TIME_LIMIT")
    )
    error_message = "the restore function stops a minute inside its 900 s timeout (RESTORE_TIME_LIMIT 840); the backup gets no limit"
  }

  assert {
    condition = {
      for job, fn in aws_lambda_function.this : job => [fn.function_name, fn.timeout, fn.reserved_concurrent_executions]
      } == {
      backup  = ["aviatrix-ctrl-backup-backup", 600, 1]
      restore = ["aviatrix-ctrl-backup-restore", 900, 1]
    }
    error_message = "each function's name, timeout and reserved concurrency (one run at a time)"
  }

  assert {
    condition = length(setintersection(keys(aws_lambda_function.this["backup"].environment[0].variables), [
      "REPLACEMENT_TAG", "REPLACEMENT_URL", "REPLACEMENT_NAME_PATTERN", "RESTORE_ALLOWED_TARGETS",
    ])) == 0
    error_message = "the backup function gets no replacement setting"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      length(setintersection(keys(fn.environment[0].variables), [
        "CONTROLLER_TAG_KEY", "CONTROLLER_TAG_VALUE", "RESTORE_TARGET", "CONTROLLER_ALLOW_HTTP",
      ])) == 0 && startswith(fn.environment[0].variables["CONTROLLER_URL"], "https://")
    ])
    error_message = "an old setting, CONTROLLER_ALLOW_HTTP or a non-https CONTROLLER_URL reaches a function"
  }

  assert {
    condition = (
      toset([for p in aws_lambda_permission.backup_url : p.principal]) == toset(var.backup_invokers)
      && toset([for p in aws_lambda_permission.backup_invoke : p.principal]) == toset(var.backup_invokers)
      && alltrue([for p in concat(values(aws_lambda_permission.backup_url), values(aws_lambda_permission.backup_invoke)) : p.function_name == aws_lambda_function.this["backup"].function_name])
    )
    error_message = "backup_invokers must get both permissions on the backup function, and only there"
  }

  assert {
    condition = (
      toset([for p in aws_lambda_permission.restore_url : p.principal]) == toset(var.restore_invokers)
      && toset([for p in aws_lambda_permission.restore_invoke : p.principal]) == toset(var.restore_invokers)
      && alltrue([for p in concat(values(aws_lambda_permission.restore_url), values(aws_lambda_permission.restore_invoke)) : p.function_name == aws_lambda_function.this["restore"].function_name])
    )
    error_message = "restore_invokers must get both permissions on the restore function, and only there"
  }

  assert {
    condition     = [for url in values(aws_lambda_function_url.this) : url.authorization_type] == ["AWS_IAM", "AWS_IAM"]
    error_message = "both Function URLs need SigV4 (AWS_IAM), never NONE"
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].noncurrent_days == 90
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].newer_noncurrent_versions == 30
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "old versions must be kept 90 days and 30 versions, together"
  }
}

run "a_name_pattern_allowed_targets_and_the_eip" {
  command = plan

  variables {
    replacement_tag          = "aviatrix-role=controller"
    replacement_name_pattern = "aviatrix-controller*"
    replacement_url          = "controller_url"
    restore_allowed_targets  = ["10.0.2.0/24", "ctl-dr.example.com"]
    restore_invokers         = []
  }

  assert {
    condition = {
      for k, v in aws_lambda_function.this["restore"].environment[0].variables : k => v
      if contains(["REPLACEMENT_TAG", "REPLACEMENT_URL", "REPLACEMENT_NAME_PATTERN", "RESTORE_ALLOWED_TARGETS"], k)
      } == {
      REPLACEMENT_TAG          = "aviatrix-role=controller"
      REPLACEMENT_URL          = "controller_url"
      REPLACEMENT_NAME_PATTERN = "aviatrix-controller*"
      RESTORE_ALLOWED_TARGETS  = "10.0.2.0/24,ctl-dr.example.com"
    }
    error_message = "the restore function's replacement settings"
  }

  assert {
    condition     = length(aws_lambda_permission.restore_url) == 0 && length(aws_lambda_permission.restore_invoke) == 0 && length(aws_lambda_permission.backup_url) == 2
    error_message = "no restore caller is granted anything when restore_invokers is empty"
  }
}

run "export_mode_and_other_timeouts" {
  command = plan

  variables {
    backup_mode                    = "export"
    backup_timeout_seconds         = 900
    restore_timeout_seconds        = 600
    reserved_concurrent_executions = 2
    enable_tracing                 = true
    subnet_ids                     = ["subnet-0123456789abcdef0"]
    security_group_ids             = ["sg-0123456789abcdef0"]
  }

  assert {
    condition = (
      keys(aws_iam_role_policy_attachment.vpc_access) == ["backup", "restore"]
      && keys(aws_iam_role_policy_attachment.xray) == ["backup", "restore"]
    )
    error_message = "with subnets and tracing, both function roles get the VPC and X-Ray policies"
  }

  assert {
    condition = (
      aws_lambda_function.this["backup"].environment[0].variables["CONTROLLER_READY_TIMEOUT"] == "780"
      && aws_lambda_function.this["restore"].environment[0].variables["RESTORE_TIME_LIMIT"] == "540"
    )
    error_message = "the waits follow each function's own timeout: 900 - 120 (no native wait in export mode), 600 - 60"
  }

  assert {
    condition     = [for fn in values(aws_lambda_function.this) : fn.reserved_concurrent_executions] == [2, 2]
    error_message = "reserved_concurrent_executions reaches both functions"
  }
}
