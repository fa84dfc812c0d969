# A customer-managed KMS key with yearly rotation, administered by this
# account, and optionally usable by CloudWatch Logs and CloudWatch alarms.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {
  region = var.region
}

data "aws_iam_policy_document" "key" {
  # In a key policy, the resource "*" is the key itself, and the account root
  # must administer it, or the key becomes unmanageable (AWS's default policy).
  # checkov:skip=CKV_AWS_109: a key policy's "*" resource is this key only
  # checkov:skip=CKV_AWS_111: a key policy's "*" resource is this key only
  # checkov:skip=CKV_AWS_356: a key policy's "*" resource is this key only
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = var.allow_cloudwatch_logs ? [1] : []

    content {
      sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
      actions = [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
      ]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
      }

      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.allow_cloudwatch_alarms ? [1] : []

    content {
      sid       = "CloudWatchAlarmsPublishToEncryptedTopics"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  region                  = var.region
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

# An alias costs its readers kms:ListAliases on every key in the region
# (the provider lists them all), so stacks whose roles refresh the key go
# without one; the key's description and tags name it instead.
resource "aws_kms_alias" "this" {
  count = var.create_alias ? 1 : 0

  region = var.region

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
