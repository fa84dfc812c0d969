# The role the destroy workflow assumes to tear down one service stack
# (App Runner or ECS Express). It lives in the registry stack, outside the
# stacks it deletes, so that it never deletes itself halfway through.
#
# It may refresh and delete what those stacks create and nothing else.
# Names they choose are granted exactly (local.stacks, which
# tests/permissions checks against the stacks themselves); where AWS picks
# the name, the pattern stops at the stack's own prefix; KMS keys, whose
# ids are random, are matched by the tags every stack sets. The calls are
# listed in infra/permissions/calls.yaml, with their source.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  arn       = "arn:${local.partition}"
  in_region = "${local.region}:${local.account}"
  bucket    = "${local.arn}:s3:::${var.state_bucket}"
  # S3 as KMS sees it (kms:ViaService), in this partition.
  s3_service = "s3.${local.region}.${data.aws_partition.current.dns_suffix}"

  # What each service stack creates, by the names it gives.
  stacks = {
    apprunner = {
      prefix          = "${var.name}-apprunner"
      inline_policies = ["${var.name}-apprunner-access", "${var.name}-apprunner-github-deploy"]
      attached        = []
      log_groups      = ["aws-waf-logs-${var.name}-apprunner"]
      alarms          = ["at-max-capacity"]
    }
    ecs-express = {
      prefix          = "${var.name}-ecs-express"
      inline_policies = ["${var.name}-ecs-execution", "${var.name}-ecs-express-github-deploy"]
      attached        = ["${var.name}-ecs-infrastructure"]
      log_groups      = ["aws-waf-logs-${var.name}-ecs-express", "/ecs/${var.name}"]
      alarms          = ["at-max-capacity", "refused-surge"]
    }
  }
  # The SLOs' alarms (infra/modules/slo-alarms at its default alerts): one
  # per window, and one alert per severity; the probe's live in
  # var.probe_metrics_region.
  slo_alarms = flatten([for slo in ["availability", "latency", "probe"] : [
    for a in ["page-1h", "page-5m", "page-6h", "page-30m", "ticket-3d", "ticket-6h", "page", "ticket"] : "${slo}-${a}"
  ]])
  prefixes = [for s in values(local.stacks) : s.prefix]

  states = flatten([for stack in keys(local.stacks) : [
    "${local.bucket}/${stack}/terraform.tfstate",
    "${local.bucket}/${stack}/terraform.tfstate.tflock",
  ]])
  locks = [for stack in keys(local.stacks) : "${local.bucket}/${stack}/terraform.tfstate.tflock"]
  # scripts/last-good.sh retire: each stack's last good image, and where a
  # teardown moves it.
  last_good         = [for stack in keys(local.stacks) : "${local.bucket}/${stack}/last-good-image"]
  retired_last_good = [for stack in keys(local.stacks) : "${local.bucket}/${stack}/last-good-image.retired"]

  role_arns            = [for r in flatten([for s in values(local.stacks) : concat(s.inline_policies, s.attached)]) : "${local.arn}:iam::${local.account}:role/${r}"]
  inline_policy_roles  = [for r in flatten([for s in values(local.stacks) : s.inline_policies]) : "${local.arn}:iam::${local.account}:role/${r}"]
  attached_policy_role = [for r in flatten([for s in values(local.stacks) : s.attached]) : "${local.arn}:iam::${local.account}:role/${r}"]

  web_acls = [for p in local.prefixes : "${local.arn}:wafv2:${local.in_region}:regional/webacl/${p}/*"]
  # CloudWatch Logs documents log-group ARNs with and without a :*
  # suffix; both name the group alone.
  log_groups      = [for g in flatten([for s in values(local.stacks) : s.log_groups]) : "${local.arn}:logs:${local.in_region}:log-group:${g}"]
  ecs_log_group   = "${local.arn}:logs:${local.in_region}:log-group:/ecs/${var.name}"
  in_probe_region = "${var.probe_metrics_region}:${local.account}"
  alarms = flatten([for s in values(local.stacks) : concat(
    [for a in s.alarms : "${local.arn}:cloudwatch:${local.in_region}:alarm:${s.prefix}-${a}"],
    [for a in local.slo_alarms : "${local.arn}:cloudwatch:${startswith(a, "probe-") ? local.in_probe_region : local.in_region}:alarm:${s.prefix}-${a}"],
  )])
  topics = flatten([for p in local.prefixes : [
    "${local.arn}:sns:${local.in_region}:${p}-page",
    "${local.arn}:sns:${local.in_region}:${p}-ticket",
    "${local.arn}:sns:${local.in_probe_region}:${p}-probe-page",
    "${local.arn}:sns:${local.in_probe_region}:${p}-probe-ticket",
  ]])
  dashboards             = [for p in local.prefixes : "${local.arn}:cloudwatch::${local.account}:dashboard/${p}"]
  apprunner              = "${local.arn}:apprunner:${local.in_region}"
  apprunner_svc          = "${local.apprunner}:service/${var.name}/*"
  ecs                    = "${local.arn}:ecs:${local.in_region}"
  express_load_balancers = "${local.arn}:elasticloadbalancing:${local.in_region}:loadbalancer/app/*"
}

data "aws_iam_policy_document" "destroy" {
  # --- the state --------------------------------------------------------

  statement {
    sid       = "ListWorkspaces"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket]

    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = ["env:/"]
    }
  }

  statement {
    sid       = "ReadAndWriteTheServiceStacksStateAndLocks"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = local.states
  }

  statement {
    sid       = "ReleaseTheLocks"
    actions   = ["s3:DeleteObject"]
    resources = local.locks
  }

  # After the destroy, the stack's last good image is moved aside: a copy
  # (read the record, write the retired one), then a delete of the record.
  statement {
    sid       = "ReadAndRemoveTheLastGoodImages"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = local.last_good
  }

  statement {
    sid       = "WriteTheRetiredLastGoodImages"
    actions   = ["s3:PutObject"]
    resources = local.retired_last_good
  }

  statement {
    sid       = "UseTheStateKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.state_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_service]
    }
  }

  # --- IAM roles --------------------------------------------------------

  statement {
    sid = "RefreshAndDeleteTheRoles"
    actions = [
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
    ]
    resources = local.role_arns
  }

  statement {
    sid       = "DeleteTheInlinePolicies"
    actions   = ["iam:DeleteRolePolicy"]
    resources = local.inline_policy_roles
  }

  statement {
    sid       = "DetachTheExpressInfrastructurePolicy"
    actions   = ["iam:DetachRolePolicy"]
    resources = local.attached_policy_role

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = ["${local.arn}:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices"]
    }
  }

  # --- KMS keys: by the tags the stacks' providers set -------------------

  statement {
    sid = "RefreshAndRetireTheServiceStacksKeys"
    actions = [
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "kms:ScheduleKeyDeletion",
    ]
    # The probe's key encrypts its topics in the probe's region.
    resources = distinct(["${local.arn}:kms:${local.in_region}:key/*", "${local.arn}:kms:${local.in_probe_region}:key/*"])

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Stack"
      values   = keys(local.stacks)
    }
  }

  # --- WAF and logs -----------------------------------------------------

  statement {
    sid = "RefreshAndDeleteTheWebAcls"
    actions = [
      "wafv2:DeleteLoggingConfiguration",
      "wafv2:DeleteWebACL",
      "wafv2:GetLoggingConfiguration",
      "wafv2:GetWebACL",
      "wafv2:ListTagsForResource",
    ]
    resources = local.web_acls
  }

  statement {
    sid       = "RefreshTheWebAclAssociations"
    actions   = ["wafv2:GetWebACLForResource"]
    resources = concat(local.web_acls, [local.apprunner_svc, local.express_load_balancers])
  }

  statement {
    sid       = "DeleteTheWebAclAssociations"
    actions   = ["wafv2:DisassociateWebACL"]
    resources = [local.apprunner_svc, local.express_load_balancers]
  }

  statement {
    sid = "ActionsWithoutResourceScopes"
    actions = [
      "elasticloadbalancing:SetWebAcl",
      "logs:DeleteLogDelivery",
      "logs:DeleteQueryDefinition",
      "logs:DescribeLogGroups",
      "logs:DescribeQueryDefinitions",
    ]
    # None of these supports resource-level permissions (SAR).
    resources = ["*"]
  }

  statement {
    sid     = "RefreshAndDeleteTheSubscriptions"
    actions = ["sns:GetSubscriptionAttributes", "sns:Unsubscribe"]
    # Authorized on the topic (SAR); a subscription's own ARN is the
    # topic's with :<id>, so both forms are granted, for these topics only.
    resources = concat(local.topics, [for t in local.topics : "${t}:*"])
  }

  statement {
    sid       = "RefreshTheLogGroupTags"
    actions   = ["logs:ListTagsForResource"]
    resources = local.log_groups
  }

  statement {
    sid       = "DeleteTheLogGroups"
    actions   = ["logs:DeleteLogGroup"]
    resources = concat(local.log_groups, [for g in local.log_groups : "${g}:*"])
  }

  statement {
    sid       = "RefreshAndDeleteTheMetricFilters"
    actions   = ["logs:DeleteMetricFilter", "logs:DescribeMetricFilters"]
    resources = [local.ecs_log_group, "${local.ecs_log_group}:*"]
  }

  # --- alarms -----------------------------------------------------------

  statement {
    sid       = "RefreshAndDeleteTheAlarms"
    actions   = ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = local.alarms
  }

  statement {
    sid = "RefreshAndDeleteTheTopics"
    actions = [
      "sns:DeleteTopic",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
      "sns:SetTopicAttributes",
    ]
    resources = local.topics
  }

  statement {
    sid       = "RefreshAndDeleteTheDashboards"
    actions   = ["cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"]
    resources = local.dashboards
  }

  # --- the black-box probe ------------------------------------------------

  statement {
    sid     = "RefreshAndDeleteTheHealthChecks"
    actions = ["route53:DeleteHealthCheck", "route53:GetHealthCheck", "route53:ListTagsForResource"]
    # Route 53 picks a health check's id, and its health-check actions have
    # no condition keys (SAR): no narrower grant can be written.
    resources = ["${local.arn}:route53:::healthcheck/*"]
  }

  # --- App Runner -------------------------------------------------------

  statement {
    sid = "RefreshAndDeleteTheAppRunnerService"
    actions = [
      "apprunner:DeleteService",
      "apprunner:DescribeService",
      "apprunner:DescribeWebAclForService",
      "apprunner:DisassociateCustomDomain",
      "apprunner:DisassociateWebAcl",
      "apprunner:ListTagsForResource",
    ]
    resources = [local.apprunner_svc]
  }

  statement {
    sid = "RefreshAndDeleteTheAutoScalingConfiguration"
    actions = [
      "apprunner:DeleteAutoScalingConfiguration",
      "apprunner:DescribeAutoScalingConfiguration",
      "apprunner:ListTagsForResource",
    ]
    resources = ["${local.apprunner}:autoscalingconfiguration/${var.name}/*"]
  }

  statement {
    sid = "RefreshAndDeleteTheObservabilityConfiguration"
    actions = [
      "apprunner:DeleteObservabilityConfiguration",
      "apprunner:DescribeObservabilityConfiguration",
      "apprunner:ListTagsForResource",
    ]
    resources = ["${local.apprunner}:observabilityconfiguration/${var.name}/*"]
  }

  # --- ECS Express ------------------------------------------------------

  statement {
    sid       = "RefreshAndDeleteTheCluster"
    actions   = ["ecs:DeleteCluster", "ecs:DescribeClusters"]
    resources = ["${local.ecs}:cluster/${var.name}"]
  }

  statement {
    sid       = "RefreshAndDeleteTheExpressService"
    actions   = ["ecs:DeleteExpressGatewayService", "ecs:DescribeExpressGatewayService"]
    resources = ["${local.ecs}:service/${var.name}/${var.name}"]
  }

  statement {
    sid = "RefreshAndDeleteTheLoadBalancersWebAcl"
    # Express Mode names its load balancer itself, and tags what it manages.
    actions   = ["elasticloadbalancing:DeleteWebACLAssociation", "elasticloadbalancing:GetLoadBalancerWebACL"]
    resources = [local.express_load_balancers]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/AmazonECSManaged"
      values   = ["true"]
    }
  }
}

module "role" {
  source = "../github-actions-role"

  name              = "${var.name}-github-destroy"
  description       = "Tears the ${var.name} service stacks down from GitHub Actions, after a reviewer approves."
  oidc_provider_arn = var.oidc_provider_arn
  github_repository = var.github_repository
  subjects          = var.subjects
  policy_json       = data.aws_iam_policy_document.destroy.json
  tags              = var.tags
}
