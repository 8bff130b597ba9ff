# One customer-managed key for everything that holds backup data or its metadata: the bucket, the
# password secret, the log groups, the dead-letter queue, the alarm topic and the functions' environment.
resource "aws_kms_key" "backup" {
  description             = "${var.name}: controller backups, their secret, logs and queues"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "backup" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.backup.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:a key policy's resource "*" is this key alone; write access is limited to the account and to services by source account or log group
  #checkov:skip=CKV_AWS_356:a key policy's resource "*" is this key alone (key policies cannot name other resources)
  #checkov:skip=CKV_AWS_109:the account root administers its own key, as AWS's default key policy does; without it the key could become unmanageable
  # A key policy's resource "*" means this key itself.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Destroying or locking the key would make every kept version unreadable: the functions' roles
  # may never do it, whatever policy is attached to them later.
  statement {
    sid       = "DenyKeyDestructionByTheFunctions"
    effect    = "Deny"
    actions   = ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:DeleteImportedKeyMaterial"]
    resources = ["*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = values(aws_iam_role.function)[*].arn
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-*"]
    }
  }

  statement {
    sid       = "AlarmsAndEventsUseQueueAndTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
