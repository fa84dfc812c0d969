# The role the release workflow assumes to run `terraform plan` and `apply`
# for one service stack. It may update the service (a new image digest),
# pass the service's own roles to that service only, and read, never change,
# everything else in the stack, so that Terraform can refresh it. Changing
# anything but the service takes an administrator.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  arn       = "arn:${local.partition}"
}

data "aws_iam_policy_document" "deploy" {
  dynamic "statement" {
    for_each = var.service_statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  dynamic "statement" {
    for_each = var.pass_roles

    content {
      sid       = "PassRole${index(var.pass_roles, statement.value)}"
      actions   = ["iam:PassRole"]
      resources = [statement.value.role_arn]

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = [statement.value.service]
      }
    }
  }

  statement {
    sid       = "ListTheStateBucket"
    actions   = ["s3:ListBucket"]
    resources = ["${local.arn}:s3:::${var.state_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.stack}/*"]
    }
  }

  statement {
    sid       = "ReadAndWriteThisStacksStateAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.arn}:s3:::${var.state_bucket}/${var.stack}/*"]
  }

  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.state_kms_key_arn]
  }

  statement {
    sid = "ReadTheStacksRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
    ]
    resources = ["${local.arn}:iam::${local.account}:role/${var.name}-*"]
  }

  statement {
    sid       = "ReadGitHubsIdentityProvider"
    actions   = ["iam:GetOpenIDConnectProvider"]
    resources = [var.oidc_provider_arn]
  }

  statement {
    sid       = "ReadTheRepository"
    actions   = ["ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:ListTagsForResource"]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid = "ReadTheStacksKeysAlarmsAndTopic"
    actions = [
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "sns:GetSubscriptionAttributes",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
    ]
    resources = [
      "${local.arn}:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*",
      "${local.arn}:kms:${local.region}:${local.account}:key/*",
      "${local.arn}:sns:${local.region}:${local.account}:${var.name}-*",
    ]
  }

  statement {
    sid = "ReadTheStacksWebAclAndLogs"
    actions = [
      "logs:DescribeMetricFilters",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "wafv2:GetLoggingConfiguration",
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:ListTagsForResource",
    ]
    resources = [
      "${local.arn}:logs:${local.region}:${local.account}:log-group:*${var.name}*",
      "${local.arn}:wafv2:${local.region}:${local.account}:regional/webacl/${var.name}/*",
    ]
  }

  statement {
    sid = "ListingsWithoutResourceScopes"
    actions = [
      "kms:ListAliases",
      "logs:DescribeLogGroups",
    ]
    # These list actions support no resource-level permissions.
    resources = ["*"]
  }
}

module "role" {
  source = "../github-actions-role"

  name              = "${var.name}-${var.stack}-github-deploy"
  description       = "Deploys ${var.name} (${var.stack}) from GitHub Actions: updates the service, reads the rest of the stack."
  oidc_provider_arn = var.oidc_provider_arn
  github_repository = var.github_repository
  subjects          = var.subjects
  policy_json       = data.aws_iam_policy_document.deploy.json
  tags              = var.tags
}
