# The role the release workflow assumes to run `terraform plan` and `apply`
# of an image change for one service stack. It may refresh every resource
# of the stack, update the service, and pass the service its own roles;
# changing anything else takes an administrator.
#
# Each statement grants what one kind of resource's refresh calls, on
# exactly the ARNs the stack passes in: infra/permissions/calls.yaml lists
# those calls with their source in the AWS provider, and
# tests/permissions proves this policy against it both ways.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  # S3 as KMS sees it (kms:ViaService), in this partition.
  s3_service = "s3.${local.region}.${data.aws_partition.current.dns_suffix}"
  role_name  = "${var.name}-${var.stack}-github-deploy"
  role_arn   = "arn:${local.partition}:iam::${local.account}:role/${local.role_name}"
  bucket     = "arn:${local.partition}:s3:::${var.state_bucket}"
  state      = "${local.bucket}/${var.stack}/terraform.tfstate"
  # scripts/last-good.sh: the image that last passed the smoke test.
  last_good = "${local.bucket}/${var.stack}/last-good-image"
  # CloudWatch Logs documents log-group ARNs with and without a :*
  # suffix; both name the group alone.
  metric_filter_groups = flatten([for arn in var.refresh.metric_filter_log_groups : [arn, "${arn}:*"]])
}

data "aws_iam_policy_document" "deploy" {
  # --- the state (Terraform's S3 backend) ---------------------------------

  statement {
    sid       = "ListWorkspaces"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    # Terraform lists env:/ for workspaces, and nothing else.
    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = ["env:/"]
    }
  }

  statement {
    sid       = "ReadAndWriteThisStacksStateLockAndLastGoodImage"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.state, "${local.state}.tflock", local.last_good]
  }

  statement {
    sid       = "ReleaseTheLock"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.state}.tflock"]
  }

  statement {
    sid     = "UseTheStateKeyThroughS3"
    actions = ["kms:Decrypt", "kms:GenerateDataKey"]
    # The state key is infra/bootstrap's; its ARN is found by its tags
    # rather than by a lookup, which would need kms:ListAliases on every key.
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Stack"
      values   = ["bootstrap"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_service]
    }
  }

  # --- keeping the last good image (scripts/last-good.sh record) ----------

  statement {
    sid = "TagTheLastGoodImageToKeepIt"
    # BatchGetImage reads the manifest that PutImage tags good-<digest>; the
    # repository's tags are immutable, so no tag can be moved.
    actions   = ["ecr:BatchGetImage", "ecr:PutImage"]
    resources = [var.repository_arn]
  }

  # --- checking the image's signature (scripts/deploy.sh, cosign verify) ---

  statement {
    sid = "ReadTheImageAndItsSignature"
    # cosign reads the image's manifest and the signature stored beside it
    # (tag sha256-<digest>.sig): a manifest, then its layer.
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.repository_arn]
  }

  statement {
    sid     = "LogInToTheRegistry"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions.
    resources = ["*"]
  }

  # --- refreshing the stack -------------------------------------------------

  statement {
    sid = "RefreshRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
    ]
    resources = concat(var.refresh.roles, [local.role_arn])
  }

  statement {
    sid = "RefreshKeys"
    actions = [
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
    ]
    resources = var.refresh.kms_keys
  }

  statement {
    sid = "RefreshTheWebAcl"
    actions = [
      "wafv2:GetLoggingConfiguration",
      "wafv2:GetWebACL",
      "wafv2:ListTagsForResource",
    ]
    resources = [var.refresh.web_acl]
  }

  dynamic "statement" {
    for_each = length(var.refresh.protected_resources) > 0 ? [1] : []

    content {
      sid       = "RefreshTheWebAclAssociations"
      actions   = ["wafv2:GetWebACLForResource"]
      resources = concat([var.refresh.web_acl], var.refresh.protected_resources)
    }
  }

  dynamic "statement" {
    for_each = length(var.refresh.load_balancers) > 0 ? [1] : []

    content {
      sid       = "RefreshTheLoadBalancersWebAcl"
      actions   = ["elasticloadbalancing:GetLoadBalancerWebACL"]
      resources = var.refresh.load_balancers

      # Express Mode tags what it manages.
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/AmazonECSManaged"
        values   = ["true"]
      }
    }
  }

  statement {
    sid       = "RefreshLogGroupTags"
    actions   = ["logs:ListTagsForResource"]
    resources = var.refresh.log_groups
  }

  statement {
    sid     = "RefreshLogGroups"
    actions = ["logs:DescribeLogGroups"]
    # DescribeLogGroups has no resource-level permissions.
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(local.metric_filter_groups) > 0 ? [1] : []

    content {
      sid       = "RefreshMetricFilters"
      actions   = ["logs:DescribeMetricFilters"]
      resources = local.metric_filter_groups
    }
  }

  statement {
    sid       = "RefreshAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = var.refresh.alarms
  }

  statement {
    sid       = "RefreshTheTopics"
    actions   = ["sns:GetTopicAttributes", "sns:ListTagsForResource"]
    resources = var.refresh.topics
  }

  dynamic "statement" {
    for_each = length(var.refresh.subscribed_topics) > 0 ? [1] : []

    content {
      sid     = "RefreshSubscriptions"
      actions = ["sns:GetSubscriptionAttributes"]
      # Authorized on the topic (SAR); a subscription's own ARN is the
      # topic's with :<id>, so both forms are granted, for these topics only.
      resources = concat(var.refresh.subscribed_topics, [for t in var.refresh.subscribed_topics : "${t}:*"])
    }
  }

  dynamic "statement" {
    for_each = length(var.refresh.dashboards) > 0 ? [1] : []

    content {
      sid       = "RefreshTheDashboards"
      actions   = ["cloudwatch:GetDashboard"]
      resources = var.refresh.dashboards
    }
  }

  dynamic "statement" {
    for_each = length(var.refresh.health_checks) > 0 ? [1] : []

    content {
      sid       = "RefreshTheHealthChecks"
      actions   = ["route53:GetHealthCheck", "route53:ListTagsForResource"]
      resources = var.refresh.health_checks
    }
  }

  dynamic "statement" {
    for_each = var.refresh.query_definitions ? [1] : []

    content {
      sid     = "RefreshTheSavedQueries"
      actions = ["logs:DescribeQueryDefinitions"]
      # DescribeQueryDefinitions has no resource-level permissions (SAR).
      resources = ["*"]
    }
  }

  # --- the error budget (scripts/error-budget.sh, before a release) -------

  statement {
    sid     = "ReadTheErrorBudgets"
    actions = ["cloudwatch:GetMetricData"]
    # GetMetricData has no resource-level permissions (SAR).
    resources = ["*"]
  }

  # --- the service: its own reads, the update, and its roles ---------------

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

      dynamic "condition" {
        for_each = length(statement.value.services) > 0 ? [statement.value.services] : []

        content {
          test     = "StringEquals"
          variable = "iam:PassedToService"
          values   = condition.value
        }
      }
    }
  }
}

module "role" {
  source = "../github-actions-role"

  name              = local.role_name
  description       = "Deploys ${var.name} (${var.stack}) from GitHub Actions: refreshes the stack, updates the service."
  oidc_provider_arn = var.oidc_provider_arn
  github_repository = var.github_repository
  subjects          = var.subjects
  policy_json       = data.aws_iam_policy_document.deploy.json
  tags              = var.tags
}
