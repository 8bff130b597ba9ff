# What every plan test of the AWS module plans with: the driver (tests/terraform/helpers.py)
# appends this file to each *.tftest.hcl here, so a file's line numbers stay its own. It has no
# run of its own.
#
# The real AWS provider, from the local plugin mirror, plans every resource offline: it is
# configured with dummy credentials and never calls AWS. The account, partition and region are
# overridden, and so are the computed ARNs, ids and names the functions' settings, the policies
# and the alarms are built from, so each assert compares real, known planned values. Most policy
# documents are read only at apply (they depend on resources still to be created), so the tests
# check their planned statements: every argument resolved and every dynamic block expanded.
#
# A test file here declares no provider, override or file-level variables block of its own: they
# come from this file (Terraform allows one variables block per file).

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
  target          = aws_secretsmanager_secret.this["controller_password"]
  override_during = plan
  values          = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:password", id = "password" }
}

override_resource {
  target          = aws_secretsmanager_secret.this["controller_customer_id"]
  override_during = plan
  values          = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:customer-id", id = "customer-id" }
}

override_resource {
  target          = aws_kms_key.backup
  override_during = plan
  values          = { arn = "arn:aws:kms:us-east-1:123456789012:key/backup", key_id = "backup" }
}

override_resource {
  target          = aws_sqs_queue.dlq
  override_during = plan
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:dead-letters", id = "https://sqs.example/dead-letters" }
}

override_resource {
  target          = aws_sns_topic.alarms
  override_during = plan
  values          = { arn = "arn:aws:sns:us-east-1:123456789012:alarms" }
}

override_resource {
  target          = aws_cloudwatch_event_rule.controller_replaced
  override_during = plan
  values          = { arn = "arn:aws:events:us-east-1:123456789012:rule/controller-replaced" }
}

override_resource {
  target          = aws_iam_role.function["backup"]
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/backup-role", id = "backup-role", name = "backup-role" }
}

override_resource {
  target          = aws_iam_role.function["restore"]
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/restore-role", id = "restore-role", name = "restore-role" }
}

override_resource {
  target          = aws_iam_role.scheduler
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/scheduler-role", id = "scheduler-role", name = "scheduler-role" }
}

override_resource {
  target          = aws_cloudwatch_log_group.function["backup"]
  override_during = plan
  values          = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/aviatrix-ctrl-backup-backup" }
}

override_resource {
  target          = aws_cloudwatch_log_group.function["restore"]
  override_during = plan
  values          = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/aviatrix-ctrl-backup-restore" }
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

override_resource {
  target          = aws_lambda_function_url.this["backup"]
  override_during = plan
  values          = { function_url = "https://backup.lambda-url.us-east-1.on.aws/" }
}

override_resource {
  target          = aws_lambda_function_url.this["restore"]
  override_during = plan
  values          = { function_url = "https://restore.lambda-url.us-east-1.on.aws/" }
}

override_resource {
  target          = aws_iam_policy.invoke["backup"]
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:policy/invoke-backup" }
}

override_resource {
  target          = aws_iam_policy.invoke["restore"]
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:policy/invoke-restore" }
}

# The module's required inputs and the ones native mode (the default) needs; everything else is
# left at its default unless a run sets it. package_path, and the facts the tests check the module
# against, taken from the code (record_suffix, marker_infix, handlers, ...), come from the driver.
variables {
  name                  = "aviatrix-ctrl-backup"
  controller_url        = "https://10.0.1.25"
  bucket_name           = "acme-controller-backups"
  controller_private_ip = "10.0.1.25"
  native_bucket_name    = "acme-controller-own-backups"
  native_account_name   = "backup-account"

  # not an input: what would destroy a kept version, or what protects them (storage, iam), its
  # Object Lock retention included
  destructive_actions = [
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:BypassGovernanceRetention",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketObjectLockConfiguration",
  ]
}
