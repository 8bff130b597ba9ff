# Least privilege: what each role's policy grants, on what, and what no policy of ours may grant.
# Statements are the planned ones (every reference resolved, every dynamic block expanded).

run "defaults" {
  command = plan

  variables {
    # not an input: every resource a function's or the Scheduler's role policy may name
    scoped_resources = [
      "arn:aws:s3:::acme-controller-backups",
      "arn:aws:s3:::acme-controller-backups/controller/backup.tar",
      "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.marker_infix}*",
      "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.record_suffix}",
      "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.verify_suffix}",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:password",
      "arn:aws:kms:us-east-1:123456789012:key/backup",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/aviatrix-ctrl-backup-backup:*",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/aviatrix-ctrl-backup-restore:*",
      "arn:aws:sqs:us-east-1:123456789012:dead-letters",
      "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup",
      "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup:*",
    ]
  }

  assert {
    condition = length([
      for s in concat(data.aws_iam_policy_document.function["backup"].statement, data.aws_iam_policy_document.function["restore"].statement, data.aws_iam_policy_document.scheduler.statement) : s
      if !alltrue([for r in s.resources : contains(var.scoped_resources, r) || (r == "*" && s.actions == toset(["ec2:DescribeInstances"]))])
    ]) == 0
    error_message = "a role policy names a resource that is not this deployment's (\"*\" only for ec2:DescribeInstances): ${jsonencode([for s in concat(data.aws_iam_policy_document.function["backup"].statement, data.aws_iam_policy_document.function["restore"].statement, data.aws_iam_policy_document.scheduler.statement) : s.resources if !alltrue([for r in s.resources : contains(var.scoped_resources, r) || (r == "*" && s.actions == toset(["ec2:DescribeInstances"]))])])}"
  }

  assert {
    condition = alltrue([
      for s in concat(data.aws_iam_policy_document.function["backup"].statement, data.aws_iam_policy_document.function["restore"].statement, data.aws_iam_policy_document.scheduler.statement) :
      (s.effect == null || s.effect == "Allow") && !anytrue([for a in s.actions : strcontains(a, "*")])
    ])
    error_message = "a role policy statement denies, or grants a wildcard action"
  }

  # No identity of ours may destroy a kept version: no delete, no change to what protects the
  # history, no wildcard, in any policy document but the bucket's and the key's own (storage).
  assert {
    condition = alltrue([
      for s in flatten([
        data.aws_iam_policy_document.assume["lambda"].statement,
        data.aws_iam_policy_document.function["backup"].statement,
        data.aws_iam_policy_document.function["restore"].statement,
        data.aws_iam_policy_document.native["backup"].statement,
        data.aws_iam_policy_document.native["restore"].statement,
        data.aws_iam_policy_document.assume["scheduler"].statement,
        data.aws_iam_policy_document.scheduler.statement,
        data.aws_iam_policy_document.invoke["backup"].statement,
        data.aws_iam_policy_document.invoke["restore"].statement,
        data.aws_iam_policy_document.sender["alarms_topic"].statement,
        data.aws_iam_policy_document.sender["dlq"].statement,
      ]) :
      (s.effect == null || s.effect == "Allow")
      && length(setintersection(s.actions, var.destructive_actions)) == 0
      && !anytrue([for a in s.actions : startswith(a, "s3:Delete") || a == "s3:*" || a == "*"])
    ])
    error_message = "a policy of ours may destroy a kept version or what protects it"
  }

  assert {
    condition = (
      contains(one([for s in data.aws_iam_policy_document.function["backup"].statement : s.actions if s.sid == "RecordTheLastSuccessAndCheck"]), "s3:PutObject")
      && one([for s in data.aws_iam_policy_document.function["backup"].statement : s.resources if s.sid == "RecordTheLastSuccessAndCheck"]) == toset([
        "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.record_suffix}",
        "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.verify_suffix}",
      ])
      && [for s in data.aws_iam_policy_document.function["restore"].statement : s.actions if contains(s.resources, "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.record_suffix}")] == [toset(["s3:GetObject"])]
    )
    error_message = "the backup writes the success record and the readiness check's where the core keeps them (BACKUP_URL + RECORD_SUFFIX, + .last-verify.json); the restore only reads the first"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["restore"].statement : s.resources if s.sid == "KeepRestoreMarkers"]) == toset(["arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.marker_infix}*"])
    error_message = "the restore keeps its markers where the core writes them (BACKUP_URL + ${var.marker_infix}<key>.json)"
  }

  assert {
    condition = (
      !anytrue([for s in data.aws_iam_policy_document.function["backup"].statement : contains(s.resources, "arn:aws:s3:::acme-controller-backups/controller/backup.tar${var.marker_infix}*") || contains(s.resources, "*")])
      && !anytrue([for s in data.aws_iam_policy_document.function["restore"].statement : contains(s.actions, "s3:PutObject") && contains(s.resources, "arn:aws:s3:::acme-controller-backups/controller/backup.tar")])
    )
    error_message = "the backup touches no marker and no \"*\"; the restore's own policy cannot overwrite the backup"
  }

  assert {
    condition = !anytrue([
      for s in concat(data.aws_iam_policy_document.function["backup"].statement, data.aws_iam_policy_document.function["restore"].statement, data.aws_iam_policy_document.scheduler.statement) :
      anytrue([for r in s.resources : strcontains(r, "acme-controller-own-backups") || strcontains(r, "CloudN") || strcontains(r, "customer-id")])
    ])
    error_message = "the policies of both modes never name the controller's bucket; without create_customer_id_secret no role reads a customer id"
  }

  # native mode: only the controller's CloudN_* files, read by the backup, written back by the restore
  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.native["backup"].statement : [s.sid, coalesce(s.effect, "Allow"), s.actions, s.resources, s.condition]]) == jsonencode([
      ["ReadTheControllersBackupFiles", "Allow", ["s3:GetObject", "s3:GetObjectVersion"], ["arn:aws:s3:::acme-controller-own-backups/CloudN_*"], []],
      ["TellMissingFromDeniedInTheControllersBucket", "Allow", ["s3:ListBucket"], ["arn:aws:s3:::acme-controller-own-backups"], []],
    ])
    error_message = "the backup reads the controller's CloudN_* files and lists its bucket, nothing more: ${jsonencode(data.aws_iam_policy_document.native["backup"].statement)}"
  }

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.native["restore"].statement : [s.sid, coalesce(s.effect, "Allow"), s.actions, s.resources, s.condition]]) == jsonencode([
      ["ReadAndPutBackTheControllersBackupFile", "Allow", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], ["arn:aws:s3:::acme-controller-own-backups/CloudN_*"], []],
      ["TellMissingFromDeniedInTheControllersBucket", "Allow", ["s3:ListBucket"], ["arn:aws:s3:::acme-controller-own-backups"], []],
      # the fresh backup a native restore ends with replaces the one object
      ["StoreTheRestoredControllersFreshBackup", "Allow", ["s3:AbortMultipartUpload", "s3:PutObject"], ["arn:aws:s3:::acme-controller-backups/controller/backup.tar"], []],
    ])
    error_message = "the restore reads and puts back the controller's CloudN_* files and stores its fresh backup, nothing more: ${jsonencode(data.aws_iam_policy_document.native["restore"].statement)}"
  }

  assert {
    condition = (
      aws_iam_role_policy.function["backup"].role == "backup-role" && aws_iam_role_policy.function["restore"].role == "restore-role"
      && aws_iam_role_policy.native["backup"].role == "backup-role" && aws_iam_role_policy.native["restore"].role == "restore-role"
      && aws_iam_role_policy.scheduler.role == "scheduler-role"
    )
    error_message = "each policy goes to its own role"
  }

  # For callers in this account: one managed policy per function, so a role that may take backups
  # does not also get to restore (an AWS_IAM Function URL needs both actions).
  assert {
    condition = { for job, doc in data.aws_iam_policy_document.invoke : job => jsonencode([for s in doc.statement : [coalesce(s.effect, "Allow"), s.actions, s.resources]]) } == {
      backup  = jsonencode([["Allow", ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"], ["arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup"]]])
      restore = jsonencode([["Allow", ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"], ["arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-restore"]]])
    }
    error_message = "each invoke policy grants calling its own function only"
  }

  assert {
    condition = { for job, role in aws_iam_role.function : job => role.name_prefix } == {
      backup  = "aviatrix-ctrl-backup-backup-"
      restore = "aviatrix-ctrl-backup-restore-"
    }
    error_message = "each function has a role of its own"
  }

  # only Lambda assumes the function roles, only the Scheduler its own role, for this account
  assert {
    condition = {
      for service, doc in data.aws_iam_policy_document.assume :
      service => jsonencode([for s in doc.statement : [s.actions, s.principals, s.condition]])
      } == {
      for service in ["lambda", "scheduler"] : service => jsonencode([[
        ["sts:AssumeRole"],
        [{ identifiers = ["${service}.amazonaws.com"], type = "Service" }],
        [{ test = "StringEquals", values = ["123456789012"], variable = "aws:SourceAccount" }],
      ]])
    } && aws_iam_role.scheduler.name_prefix == "aviatrix-ctrl-backup-schedule-"
    error_message = "only Lambda, for this account, assumes the function roles; only the Scheduler the Scheduler's role"
  }

  assert {
    condition = (
      aws_iam_policy.invoke["backup"].name_prefix == "aviatrix-ctrl-backup-invoke-backup-"
      && strcontains(aws_iam_policy.invoke["backup"].description, "not the restore")
      && aws_iam_policy.invoke["restore"].name_prefix == "aviatrix-ctrl-backup-invoke-restore-"
    )
    error_message = "one managed invoke policy per function, named for it"
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.vpc_access) == 0 && length(aws_iam_role_policy_attachment.xray) == 0
    error_message = "no VPC or X-Ray policy without subnets and tracing"
  }

  assert {
    condition = (
      length(aws_lambda_permission.backup_url) == 0 && length(aws_lambda_permission.backup_invoke) == 0
      && length(aws_lambda_permission.restore_url) == 0 && length(aws_lambda_permission.restore_invoke) == 0
    )
    error_message = "no caller is granted either function unless backup_invokers or restore_invokers lists it"
  }
}

run "an_asg_a_customer_id_and_the_controllers_key_in_china" {
  command = plan

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn" }
  }

  variables {
    backup_object_name        = "controllers/ctl-1/backup.tar"
    controller_asg_name       = "controller-asg"
    create_customer_id_secret = true
    native_bucket_kms_key_arn = "arn:aws-cn:kms:cn-north-1:999999999999:key/controller"
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.function["restore"].statement : s.resources if s.sid == "CompleteTheLaunchLifecycleAction"] == [
      toset(["arn:aws-cn:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/controller-asg"]),
    ]
    error_message = "the restore completes the launch lifecycle action of that group only"
  }

  # BYOL: only the restore role reads the customer id, and only that secret
  assert {
    condition = jsonencode([
      for s in data.aws_iam_policy_document.function["restore"].statement : [s.sid, s.actions, s.resources]
      if anytrue([for r in s.resources : strcontains(r, "customer-id")])
      ]) == jsonencode([
      ["ReadControllerCustomerId", ["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:us-east-1:123456789012:secret:customer-id"]],
    ])
    error_message = "the restore reads the customer id secret through one statement of its own"
  }

  assert {
    condition     = keys(aws_secretsmanager_secret.this) == ["controller_customer_id", "controller_password"] && length(aws_secretsmanager_secret_version.controller_customer_id) == 0
    error_message = "the customer id secret gets no value from Terraform unless controller_customer_id is set"
  }

  assert {
    condition = !anytrue([
      for s in concat(data.aws_iam_policy_document.function["backup"].statement, data.aws_iam_policy_document.scheduler.statement, data.aws_iam_policy_document.native["backup"].statement) :
      anytrue([for r in s.resources : strcontains(r, "customer-id")])
    ])
    error_message = "the backup and the Scheduler never read the customer id"
  }

  assert {
    condition = (
      [for s in data.aws_iam_policy_document.function["backup"].statement : s.resources if s.sid == "ReadAndReplaceTheBackupObject"] == [toset(["arn:aws:s3:::acme-controller-backups/controllers/ctl-1/backup.tar"])]
      && [for s in data.aws_iam_policy_document.function["restore"].statement : s.resources if s.sid == "KeepRestoreMarkers"] == [toset(["arn:aws:s3:::acme-controller-backups/controllers/ctl-1/backup.tar${var.marker_infix}*"])]
    )
    error_message = "the object and its markers follow backup_object_name"
  }

  # the controller's bucket in this partition, and its key only where the key is used
  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.native["backup"].statement : [s.sid, s.actions, s.resources]]) == jsonencode([
      ["ReadTheControllersBackupFiles", ["s3:GetObject", "s3:GetObjectVersion"], ["arn:aws-cn:s3:::acme-controller-own-backups/CloudN_*"]],
      ["TellMissingFromDeniedInTheControllersBucket", ["s3:ListBucket"], ["arn:aws-cn:s3:::acme-controller-own-backups"]],
      ["DecryptTheControllersBackupFiles", ["kms:Decrypt"], ["arn:aws-cn:kms:cn-north-1:999999999999:key/controller"]],
    ])
    error_message = "with the controller's key the backup may decrypt its files, nothing more: ${jsonencode(data.aws_iam_policy_document.native["backup"].statement)}"
  }

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.native["restore"].statement : [s.sid, s.actions, s.resources]]) == jsonencode([
      ["ReadAndPutBackTheControllersBackupFile", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], ["arn:aws-cn:s3:::acme-controller-own-backups/CloudN_*"]],
      ["TellMissingFromDeniedInTheControllersBucket", ["s3:ListBucket"], ["arn:aws-cn:s3:::acme-controller-own-backups"]],
      ["StoreTheRestoredControllersFreshBackup", ["s3:AbortMultipartUpload", "s3:PutObject"], ["arn:aws:s3:::acme-controller-backups/controllers/ctl-1/backup.tar"]],
      ["UseTheControllersBucketKey", ["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws-cn:kms:cn-north-1:999999999999:key/controller"]],
    ])
    error_message = "with the controller's key the restore may decrypt and encrypt its files, nothing more: ${jsonencode(data.aws_iam_policy_document.native["restore"].statement)}"
  }
}

run "export_mode_in_a_vpc_with_tracing" {
  command = plan

  variables {
    backup_mode           = "export"
    controller_private_ip = null
    native_bucket_name    = null
    native_account_name   = null
    subnet_ids            = ["subnet-0123456789abcdef0"]
    security_group_ids    = ["sg-0123456789abcdef0"]
    enable_tracing        = true
  }

  assert {
    condition     = length(data.aws_iam_policy_document.native) == 0
    error_message = "export mode plans no native policy document"
  }

  assert {
    condition     = length(aws_iam_role_policy.native) == 0
    error_message = "export mode grants nothing on the controller's bucket"
  }

  assert {
    condition = (
      { for k, a in aws_iam_role_policy_attachment.vpc_access : k => [a.role, a.policy_arn] } == {
        backup  = ["backup-role", "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]
        restore = ["restore-role", "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]
      }
      && { for k, a in aws_iam_role_policy_attachment.xray : k => [a.role, a.policy_arn] } == {
        backup  = ["backup-role", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]
        restore = ["restore-role", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]
      }
    )
    error_message = "with subnets and tracing, both function roles get the VPC and X-Ray policies"
  }
}
