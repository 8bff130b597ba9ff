# The two functions: what each runs, the settings each gets, who may call it and what calls it
# (the daily schedule, the replacement-controller events, the Function URLs).

run "defaults" {
  command = plan

  variables {
    backup_invokers  = ["arn:aws:iam::111111111111:role/backup-ops", "arn:aws:iam::111111111111:role/nightly"]
    restore_invokers = ["arn:aws:iam::222222222222:role/restore-ops"]
  }

  assert {
    condition = {
      for job, fn in aws_lambda_function.this : job => [fn.function_name, fn.handler, fn.role, fn.timeout, fn.reserved_concurrent_executions]
      } == {
      backup  = ["aviatrix-ctrl-backup-backup", var.handlers.backup, "arn:aws:iam::123456789012:role/backup-role", 600, 1]
      restore = ["aviatrix-ctrl-backup-restore", var.handlers.restore, "arn:aws:iam::123456789012:role/restore-role", 900, 1]
    }
    error_message = "each function's name, handler (one the code defines), own role, timeout and reserved concurrency (one run at a time)"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      fn.runtime == "python3.12" && fn.architectures == tolist(["x86_64"]) && fn.memory_size == 1024
      && fn.filename == var.package_path && fn.source_code_hash == filebase64sha256(var.package_path)
      && fn.ephemeral_storage[0].size == 2048 && fn.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/backup"
      && fn.dead_letter_config[0].target_arn == "arn:aws:sqs:us-east-1:123456789012:dead-letters"
      && fn.tracing_config[0].mode == "PassThrough" && length(fn.vpc_config) == 0
    ])
    error_message = "both functions run the package on python3.12 with 1024 MiB, the module's key, the dead-letter queue, no tracing and no VPC"
  }

  # Every setting each function gets, exactly: the shared ones, native mode's, and its own.
  assert {
    condition = aws_lambda_function.this["backup"].environment[0].variables == tomap({
      BACKUP_KMS_KEY_ID             = "arn:aws:kms:us-east-1:123456789012:key/backup"
      BACKUP_MIN_SIZE_RATIO         = "0.5"
      BACKUP_URL                    = "s3://acme-controller-backups/controller/backup.tar"
      CONTROLLER_BACKUP_MODE        = "native"
      CONTROLLER_PASSWORD           = "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:password"
      CONTROLLER_PRIVATE_IP         = "10.0.1.25"
      CONTROLLER_READY_TIMEOUT      = "180" # 600 - 300 (the native wait) - 120, inside its timeout
      CONTROLLER_URL                = "https://10.0.1.25"
      CONTROLLER_USERNAME           = "admin"
      CONTROLLER_VERIFY_TLS         = "true"
      NATIVE_ACCOUNT_NAME           = "backup-account"
      NATIVE_AWS_ACCOUNT_NUMBER     = "123456789012"
      NATIVE_BACKUP_WAIT            = "300"
      NATIVE_BUCKET_URL             = "s3://acme-controller-own-backups"
      NATIVE_CLOUD_TYPE             = "aws"
      POWERTOOLS_LOG_LEVEL          = "INFO"
      POWERTOOLS_METRICS_NAMESPACE  = "ControllerBackup"
      POWERTOOLS_PARAMETERS_MAX_AGE = "5"
      POWERTOOLS_SERVICE_NAME       = "aviatrix-ctrl-backup"
      POWERTOOLS_TRACE_DISABLED     = "true"
    })
    error_message = "the backup function's settings: ${jsonencode(aws_lambda_function.this["backup"].environment[0].variables)}"
  }

  assert {
    condition = aws_lambda_function.this["restore"].environment[0].variables == tomap({
      BACKUP_KMS_KEY_ID             = "arn:aws:kms:us-east-1:123456789012:key/backup"
      BACKUP_MIN_SIZE_RATIO         = "0.5"
      BACKUP_URL                    = "s3://acme-controller-backups/controller/backup.tar"
      CONTROLLER_BACKUP_MODE        = "native"
      CONTROLLER_PASSWORD           = "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:password"
      CONTROLLER_PRIVATE_IP         = "10.0.1.25"
      CONTROLLER_URL                = "https://10.0.1.25"
      CONTROLLER_USERNAME           = "admin"
      CONTROLLER_VERIFY_TLS         = "true"
      NATIVE_ACCOUNT_NAME           = "backup-account"
      NATIVE_AWS_ACCOUNT_NUMBER     = "123456789012"
      NATIVE_BACKUP_WAIT            = "300"
      NATIVE_BUCKET_URL             = "s3://acme-controller-own-backups"
      NATIVE_CLOUD_TYPE             = "aws"
      POWERTOOLS_LOG_LEVEL          = "INFO"
      POWERTOOLS_METRICS_NAMESPACE  = "ControllerBackup"
      POWERTOOLS_PARAMETERS_MAX_AGE = "5"
      POWERTOOLS_SERVICE_NAME       = "aviatrix-ctrl-backup"
      POWERTOOLS_TRACE_DISABLED     = "true"
      REPLACEMENT_TAG               = var.default_replacement_tag
      REPLACEMENT_URL               = "https://{private_ip}"
      RESTORE_ALLOWED_TARGETS       = ""    # no other target unless the deployer lists it
      RESTORE_TIME_LIMIT            = "840" # a minute inside its 900 s timeout
    })
    error_message = "the restore function's settings: ${jsonencode(aws_lambda_function.this["restore"].environment[0].variables)}"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      length(setsubtract(var.native_settings, keys(fn.environment[0].variables))) == 0
      && contains(var.s3_cloud_types, fn.environment[0].variables.NATIVE_CLOUD_TYPE)
    ])
    error_message = "both functions get every setting the core needs for native mode on an AWS controller (${join(", ", var.native_settings)}), and an S3 cloud type"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      length(setintersection(keys(fn.environment[0].variables), ["CONTROLLER_TAG_KEY", "CONTROLLER_TAG_VALUE", "RESTORE_TARGET", "CONTROLLER_ALLOW_HTTP"])) == 0
      && startswith(fn.environment[0].variables.CONTROLLER_URL, "https://")
    ])
    error_message = "an old setting, CONTROLLER_ALLOW_HTTP or a non-https CONTROLLER_URL reaches a function"
  }

  assert {
    condition = { for job, group in aws_cloudwatch_log_group.function : job => [group.name, group.retention_in_days, group.kms_key_id] } == {
      backup  = ["/aws/lambda/aviatrix-ctrl-backup-backup", 365, "arn:aws:kms:us-east-1:123456789012:key/backup"]
      restore = ["/aws/lambda/aviatrix-ctrl-backup-restore", 365, "arn:aws:kms:us-east-1:123456789012:key/backup"]
    }
    error_message = "each function's own log group, kept a year, encrypted with the module's key"
  }

  assert {
    condition = { for job, config in aws_lambda_function_event_invoke_config.this : job => [config.function_name, config.maximum_retry_attempts, config.maximum_event_age_in_seconds] } == {
      backup  = ["aviatrix-ctrl-backup-backup", 2, 3600]
      restore = ["aviatrix-ctrl-backup-restore", 2, 3600]
    }
    error_message = "a failed asynchronous run is retried twice within the hour, then dead-lettered"
  }

  assert {
    condition = { for job, url in aws_lambda_function_url.this : job => [url.function_name, url.authorization_type] } == {
      backup  = ["aviatrix-ctrl-backup-backup", "AWS_IAM"]
      restore = ["aviatrix-ctrl-backup-restore", "AWS_IAM"]
    }
    error_message = "each function's URL needs SigV4 (AWS_IAM), never NONE"
  }

  # Each function's resource policy admits only its own variable's principals: a backup caller
  # must not get to restore. A Function URL needs both permissions.
  assert {
    condition = jsonencode({
      backup_url     = { for k, p in aws_lambda_permission.backup_url : k => [p.principal, p.function_name, p.action, p.function_url_auth_type, startswith(p.statement_id, "backup-")] }
      backup_invoke  = { for k, p in aws_lambda_permission.backup_invoke : k => [p.principal, p.function_name, p.action, p.function_url_auth_type, startswith(p.statement_id, "backup-")] }
      restore_url    = { for k, p in aws_lambda_permission.restore_url : k => [p.principal, p.function_name, p.action, p.function_url_auth_type, startswith(p.statement_id, "restore-")] }
      restore_invoke = { for k, p in aws_lambda_permission.restore_invoke : k => [p.principal, p.function_name, p.action, p.function_url_auth_type, startswith(p.statement_id, "restore-")] }
      }) == jsonencode({
      backup_url = {
        "arn:aws:iam::111111111111:role/backup-ops" = ["arn:aws:iam::111111111111:role/backup-ops", "aviatrix-ctrl-backup-backup", "lambda:InvokeFunctionUrl", "AWS_IAM", true]
        "arn:aws:iam::111111111111:role/nightly"    = ["arn:aws:iam::111111111111:role/nightly", "aviatrix-ctrl-backup-backup", "lambda:InvokeFunctionUrl", "AWS_IAM", true]
      }
      backup_invoke = {
        "arn:aws:iam::111111111111:role/backup-ops" = ["arn:aws:iam::111111111111:role/backup-ops", "aviatrix-ctrl-backup-backup", "lambda:InvokeFunction", null, true]
        "arn:aws:iam::111111111111:role/nightly"    = ["arn:aws:iam::111111111111:role/nightly", "aviatrix-ctrl-backup-backup", "lambda:InvokeFunction", null, true]
      }
      restore_url = {
        "arn:aws:iam::222222222222:role/restore-ops" = ["arn:aws:iam::222222222222:role/restore-ops", "aviatrix-ctrl-backup-restore", "lambda:InvokeFunctionUrl", "AWS_IAM", true]
      }
      restore_invoke = {
        "arn:aws:iam::222222222222:role/restore-ops" = ["arn:aws:iam::222222222222:role/restore-ops", "aviatrix-ctrl-backup-restore", "lambda:InvokeFunction", null, true]
      }
    })
    error_message = "backup_invokers get both permissions on the backup function only, restore_invokers on the restore function only"
  }

  assert {
    condition = length(distinct(concat(
      [for p in values(aws_lambda_permission.backup_url) : p.statement_id], [for p in values(aws_lambda_permission.backup_invoke) : p.statement_id],
      [for p in values(aws_lambda_permission.restore_url) : p.statement_id], [for p in values(aws_lambda_permission.restore_invoke) : p.statement_id],
      [aws_lambda_permission.events_invoke_restore.statement_id],
    ))) == 7
    error_message = "statement ids must not collide"
  }

  # The daily backup (midnight UTC) and readiness check (06:00): on time, a few retries, then the
  # dead-letter queue; each sends exactly its input (the driver checks the backup's with the code).
  assert {
    condition = { for key, schedule in aws_scheduler_schedule.this : key => [
      schedule.name, schedule.schedule_expression, schedule.schedule_expression_timezone, schedule.state,
      schedule.flexible_time_window[0].mode, schedule.kms_key_arn,
      ] } == {
      backup = ["aviatrix-ctrl-backup-daily-backup", "cron(0 0 * * ? *)", "UTC", "ENABLED", "OFF", "arn:aws:kms:us-east-1:123456789012:key/backup"]
      verify = ["aviatrix-ctrl-backup-daily-verify", "cron(0 6 * * ? *)", "UTC", "ENABLED", "OFF", "arn:aws:kms:us-east-1:123456789012:key/backup"]
    }
    error_message = "the backup runs daily at midnight UTC, the readiness check at 06:00, on time, encrypted with the module's key"
  }

  assert {
    condition = alltrue([
      for schedule in values(aws_scheduler_schedule.this) :
      schedule.target[0].arn == "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup"
      && schedule.target[0].role_arn == "arn:aws:iam::123456789012:role/scheduler-role"
      && schedule.target[0].dead_letter_config[0].arn == "arn:aws:sqs:us-east-1:123456789012:dead-letters"
      # the Scheduler's default is 185 retries over 24 h
      && schedule.target[0].retry_policy[0].maximum_retry_attempts == 2
      && schedule.target[0].retry_policy[0].maximum_event_age_in_seconds == 3600
    ])
    error_message = "both schedules invoke the backup function as their own role, retry twice within the hour, then dead-letter"
  }

  assert {
    condition = (
      jsondecode(aws_scheduler_schedule.this["backup"].target[0].input) == var.scheduled_input
      && jsondecode(aws_scheduler_schedule.this["verify"].target[0].input) == { action = "verify", trigger = "schedule" }
    )
    error_message = "each schedule must send exactly its input, got ${jsonencode([for s in values(aws_scheduler_schedule.this) : s.target[0].input])}"
  }

  # A replacement controller without an Auto Scaling group: every instance reaching "running"
  # (the function keeps those with the tag), as the restore handler reads that event.
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.controller_replaced.event_pattern) == {
      source      = ["aws.ec2"]
      detail-type = [var.replacement_event_types.running]
      detail      = { state = ["running"] }
    }
    error_message = "the event rule must send instance state changes to running, got ${aws_cloudwatch_event_rule.controller_replaced.event_pattern}"
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.restore.arn == "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-restore"
      && aws_cloudwatch_event_target.restore.retry_policy[0].maximum_retry_attempts == 4
      && aws_cloudwatch_event_target.restore.retry_policy[0].maximum_event_age_in_seconds == 3600
      && aws_cloudwatch_event_target.restore.dead_letter_config[0].arn == "arn:aws:sqs:us-east-1:123456789012:dead-letters"
    )
    error_message = "the event rule invokes the restore function, with a retry policy and the dead-letter queue"
  }

  assert {
    condition = (
      aws_lambda_permission.events_invoke_restore.principal == "events.amazonaws.com"
      && aws_lambda_permission.events_invoke_restore.action == "lambda:InvokeFunction"
      && aws_lambda_permission.events_invoke_restore.function_name == "aviatrix-ctrl-backup-restore"
      && aws_lambda_permission.events_invoke_restore.source_arn == "arn:aws:events:us-east-1:123456789012:rule/controller-replaced"
    )
    error_message = "EventBridge may invoke the restore function for that rule only"
  }

  assert {
    condition     = length(aws_autoscaling_lifecycle_hook.restore) == 0
    error_message = "no lifecycle hook without an Auto Scaling group"
  }

  # BYOL is opt-in; the secrets' values are never shown
  assert {
    condition = (
      keys(aws_secretsmanager_secret.this) == ["controller_password"] && length(aws_secretsmanager_secret_version.controller_customer_id) == 0
      && issensitive(var.controller_password) && issensitive(var.controller_customer_id)
    )
    error_message = "no customer id secret by default; controller_password and controller_customer_id are sensitive"
  }
}

run "a_name_pattern_allowed_targets_and_the_eip_in_govcloud" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov" }
  }

  variables {
    replacement_tag          = "aviatrix-role=controller"
    replacement_name_pattern = "aviatrix-controller*"
    replacement_url          = "controller_url"
    restore_allowed_targets  = ["10.0.2.0/24", "10.0.3.7", "ctl-dr.example.com"]
    backup_invokers          = ["arn:aws:iam::111111111111:role/backup-ops"]
  }

  assert {
    condition = {
      for k, v in aws_lambda_function.this["restore"].environment[0].variables : k => v
      if contains(["REPLACEMENT_TAG", "REPLACEMENT_URL", "REPLACEMENT_NAME_PATTERN", "RESTORE_ALLOWED_TARGETS"], k)
      } == {
      REPLACEMENT_TAG          = "aviatrix-role=controller"
      REPLACEMENT_URL          = "controller_url"
      REPLACEMENT_NAME_PATTERN = "aviatrix-controller*"
      RESTORE_ALLOWED_TARGETS  = "10.0.2.0/24,10.0.3.7,ctl-dr.example.com"
    }
    error_message = "the restore function's replacement settings"
  }

  assert {
    condition = length(setintersection(keys(aws_lambda_function.this["backup"].environment[0].variables), [
      "REPLACEMENT_TAG", "REPLACEMENT_URL", "REPLACEMENT_NAME_PATTERN", "RESTORE_ALLOWED_TARGETS", "RESTORE_TIME_LIMIT",
    ])) == 0
    error_message = "the backup function gets no replacement setting and no restore limit"
  }

  assert {
    condition     = length(aws_lambda_permission.restore_url) == 0 && length(aws_lambda_permission.restore_invoke) == 0 && length(aws_lambda_permission.backup_url) == 1
    error_message = "no restore caller is granted anything when restore_invokers is empty (its default)"
  }

  assert {
    condition     = [for fn in values(aws_lambda_function.this) : fn.environment[0].variables.NATIVE_CLOUD_TYPE] == ["aws-gov", "aws-gov"]
    error_message = "a controller bucket in GovCloud is an aws-gov one"
  }
}

run "every_option_in_china" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn" }
  }

  variables {
    controller_asg_name            = "controller-asg"
    create_lifecycle_hook          = true
    create_customer_id_secret      = true
    controller_customer_id         = "CUSTOMER-1"
    controller_ca_bundle           = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    controller_tls_server_name     = "controller.example.com"
    native_aws_account_number      = "210987654321"
    native_aws_role_app            = "arn:aws-cn:iam::210987654321:role/aviatrix-role-app"
    native_aws_role_ec2            = "arn:aws-cn:iam::210987654321:role/aviatrix-role-ec2"
    native_backup_wait_seconds     = 780
    backup_timeout_seconds         = 900
    restore_max_backup_age         = "72h"
    replacement_url                = "https://{public_ip}:8443"
    subnet_ids                     = ["subnet-0123456789abcdef0"]
    security_group_ids             = ["sg-0123456789abcdef0"]
    schedule                       = "cron(30 2 * * ? *)"
    schedule_timezone              = "Europe/Berlin"
    schedule_max_retries           = 5
    schedule_max_event_age_seconds = 21600
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) : {
        for k, v in fn.environment[0].variables : k => v
        if contains(["CONTROLLER_CA_BUNDLE", "CONTROLLER_TLS_SERVER_NAME", "CONTROLLER_CUSTOMER_ID", "NATIVE_AWS_ACCOUNT_NUMBER", "NATIVE_AWS_ROLE_APP", "NATIVE_AWS_ROLE_EC2", "NATIVE_BACKUP_WAIT", "NATIVE_CLOUD_TYPE", "RESTORE_MAX_BACKUP_AGE"], k)
        } == {
        CONTROLLER_CA_BUNDLE       = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        CONTROLLER_TLS_SERVER_NAME = "controller.example.com"
        CONTROLLER_CUSTOMER_ID     = "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:customer-id"
        NATIVE_AWS_ACCOUNT_NUMBER  = "210987654321"
        NATIVE_AWS_ROLE_APP        = "arn:aws-cn:iam::210987654321:role/aviatrix-role-app"
        NATIVE_AWS_ROLE_EC2        = "arn:aws-cn:iam::210987654321:role/aviatrix-role-ec2"
        NATIVE_BACKUP_WAIT         = "780"
        NATIVE_CLOUD_TYPE          = "aws-china"
        RESTORE_MAX_BACKUP_AGE     = "72h"
      }
    ])
    error_message = "the certificate, the customer id (a reference), the access account, the native wait and the age limit reach both functions"
  }

  assert {
    condition = !anytrue(flatten([
      for fn in values(aws_lambda_function.this) : [for v in values(fn.environment[0].variables) : strcontains(v, "CUSTOMER-1")]
    ]))
    error_message = "the customer id itself never reaches a function, only its secret's reference"
  }

  assert {
    condition = (
      aws_secretsmanager_secret.this["controller_customer_id"].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/backup"
      && aws_secretsmanager_secret_version.controller_customer_id[0].secret_id == "customer-id"
    )
    error_message = "the customer id is kept in its own secret, encrypted with the module's key"
  }

  assert {
    condition     = output.controller_customer_id_secret_arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:customer-id"
    error_message = "the output names the customer id secret to put the value into"
  }

  assert {
    condition = (
      aws_lambda_function.this["backup"].environment[0].variables.CONTROLLER_READY_TIMEOUT == "30"
      && aws_lambda_function.this["restore"].environment[0].variables.RESTORE_TIME_LIMIT == "840"
      && aws_lambda_function.this["restore"].environment[0].variables.REPLACEMENT_URL == "https://{public_ip}:8443"
    )
    error_message = "the longest native wait leaves the backup the 30 s floor to wait for a rebooting controller (900 - 780 - 120 < 30)"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      jsonencode(fn.vpc_config[0].subnet_ids) == jsonencode(["subnet-0123456789abcdef0"]) && jsonencode(fn.vpc_config[0].security_group_ids) == jsonencode(["sg-0123456789abcdef0"])
    ])
    error_message = "both functions are attached to the subnets, with the security groups"
  }

  # With an Auto Scaling group, its launch events, and the launch lifecycle action the function
  # completes (a timeout lets the instance continue rather than cycle replacements).
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.controller_replaced.event_pattern) == {
      source      = ["aws.autoscaling"]
      detail-type = [var.replacement_event_types.launched, var.replacement_event_types.launching]
      detail      = { AutoScalingGroupName = ["controller-asg"] }
    }
    error_message = "the event rule must send the group's launch events, got ${aws_cloudwatch_event_rule.controller_replaced.event_pattern}"
  }

  assert {
    condition = (
      aws_autoscaling_lifecycle_hook.restore[0].autoscaling_group_name == "controller-asg"
      && aws_autoscaling_lifecycle_hook.restore[0].lifecycle_transition == "autoscaling:EC2_INSTANCE_LAUNCHING"
      && aws_autoscaling_lifecycle_hook.restore[0].heartbeat_timeout == 1200
      && aws_autoscaling_lifecycle_hook.restore[0].default_result == "CONTINUE"
    )
    error_message = "the launch hook waits the restore's timeout plus 5 minutes, then lets the instance continue"
  }

  assert {
    condition = (
      aws_scheduler_schedule.this["backup"].schedule_expression == "cron(30 2 * * ? *)"
      && aws_scheduler_schedule.this["backup"].schedule_expression_timezone == "Europe/Berlin"
      && aws_scheduler_schedule.this["backup"].target[0].retry_policy[0].maximum_retry_attempts == 5
      && aws_scheduler_schedule.this["backup"].target[0].retry_policy[0].maximum_event_age_in_seconds == 21600
      && aws_scheduler_schedule.this["verify"].schedule_expression_timezone == "Europe/Berlin"
    )
    error_message = "the schedule, its time zone and its retries are the deployer's"
  }
}

run "export_mode_and_other_timeouts" {
  command = plan

  variables {
    backup_mode                    = "export"
    controller_private_ip          = null
    native_bucket_name             = null
    native_account_name            = null
    backup_timeout_seconds         = 300 # too short for native mode's wait; fine here
    restore_timeout_seconds        = 600
    reserved_concurrent_executions = 2
    enable_tracing                 = true
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      fn.environment[0].variables.CONTROLLER_BACKUP_MODE == "export"
      && length(setintersection(keys(fn.environment[0].variables), concat(var.native_settings, ["NATIVE_AWS_ROLE_APP", "NATIVE_AWS_ROLE_EC2"]))) == 0
    ])
    error_message = "export mode is set on both functions explicitly, and no native setting reaches them"
  }

  assert {
    condition = (
      aws_lambda_function.this["backup"].environment[0].variables.CONTROLLER_READY_TIMEOUT == "180"
      && aws_lambda_function.this["restore"].environment[0].variables.RESTORE_TIME_LIMIT == "540"
      && [for fn in values(aws_lambda_function.this) : fn.timeout] == [300, 600]
    )
    error_message = "the waits follow each function's own timeout: 300 - 120 (no native wait in export mode), 600 - 60"
  }

  assert {
    condition     = [for fn in values(aws_lambda_function.this) : fn.reserved_concurrent_executions] == [2, 2]
    error_message = "reserved_concurrent_executions reaches both functions"
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      fn.tracing_config[0].mode == "Active" && fn.environment[0].variables.POWERTOOLS_TRACE_DISABLED == "false"
    ])
    error_message = "enable_tracing turns X-Ray on for both functions, and Powertools' tracer with it"
  }
}
