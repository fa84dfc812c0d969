# What both deployment targets share: the image repository, GitHub's OIDC
# provider, the role the release workflow pushes images with, and the role
# the destroy workflow tears a service stack down with. The destroy role
# lives here, outside the stacks it deletes, so that it never deletes itself
# halfway through.

provider "aws" {
  default_tags {
    tags = merge({ Project = var.name, ManagedBy = "terraform", Stack = "registry" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_kms_alias" "state" {
  name = "alias/${var.name}-tfstate"
}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.region
  arn     = "arn:${data.aws_partition.current.partition}"
  # Where the service stacks' resources live; all are named <name>...
  in_region = "${local.region}:${local.account}"
}

module "repository" {
  source = "../../modules/ecr"

  name        = var.name
  keep_images = var.keep_images
}

module "github_oidc" {
  source = "../../modules/github-oidc-provider"

  create = var.create_github_oidc_provider
}

data "aws_iam_policy_document" "push" {
  statement {
    sid = "PushToThisRepositoryOnly"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [module.repository.repository_arn]
  }

  statement {
    sid     = "LogInToTheRegistry"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions.
    resources = ["*"]
  }
}

module "push_role" {
  source = "../../modules/github-actions-role"

  name              = "${var.name}-github-push"
  description       = "Pushes ${var.name} images to their ECR repository from GitHub Actions."
  oidc_provider_arn = module.github_oidc.arn
  github_repository = var.github_repository
  subjects          = var.push_subjects
  policy_json       = data.aws_iam_policy_document.push.json
}

# Everything the two service stacks create, and only that: every resource is
# named after var.name, and KMS keys are matched by their alias.
data "aws_iam_policy_document" "destroy" {
  statement {
    sid = "ManageTheServices"
    actions = [
      "apprunner:*",
      "ecs:*",
    ]
    resources = [
      "${local.arn}:apprunner:${local.in_region}:service/${var.name}/*",
      "${local.arn}:apprunner:${local.in_region}:autoscalingconfiguration/${var.name}/*",
      "${local.arn}:apprunner:${local.in_region}:observabilityconfiguration/${var.name}/*",
      "${local.arn}:ecs:${local.in_region}:cluster/${var.name}",
      "${local.arn}:ecs:${local.in_region}:service/${var.name}/*",
      "${local.arn}:ecs:${local.in_region}:service-deployment/${var.name}/*",
      "${local.arn}:ecs:${local.in_region}:service-revision/${var.name}/*",
    ]
  }

  statement {
    sid = "ManageTheWebAclsAlarmsTopicsAndLogs"
    actions = [
      "cloudwatch:*",
      "logs:*",
      "sns:*",
      "wafv2:*",
    ]
    resources = [
      "${local.arn}:cloudwatch:${local.in_region}:alarm:${var.name}-*",
      "${local.arn}:logs:${local.in_region}:log-group:*${var.name}*",
      "${local.arn}:sns:${local.in_region}:${var.name}-*",
      "${local.arn}:wafv2:${local.in_region}:regional/webacl/${var.name}-*/*",
      "${local.arn}:apprunner:${local.in_region}:service/${var.name}/*",
      "${local.arn}:elasticloadbalancing:${local.in_region}:loadbalancer/app/*",
    ]
  }

  statement {
    sid = "DetachTheWebAclFromTheLoadBalancer"
    # Express Mode names its load balancer itself, so it cannot be narrowed
    # by name; SetWebACL is all this grants on load balancers.
    actions   = ["elasticloadbalancing:SetWebACL"]
    resources = ["${local.arn}:elasticloadbalancing:${local.in_region}:loadbalancer/app/*"]
  }

  statement {
    sid = "DeleteTheStacksRoles"
    actions = [
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
    ]
    resources = [
      "${local.arn}:iam::${local.account}:role/${var.name}-apprunner-*",
      "${local.arn}:iam::${local.account}:role/${var.name}-ecs-*",
    ]
  }

  statement {
    sid = "ReadGitHubsIdentityProviderAndTheRepository"
    actions = [
      "ecr:DescribeRepositories",
      "iam:GetOpenIDConnectProvider",
    ]
    resources = [
      module.repository.repository_arn,
      module.github_oidc.arn,
    ]
  }

  statement {
    sid = "RetireTheStacksKeys"
    actions = [
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "kms:ScheduleKeyDeletion",
    ]
    resources = [
      "${local.arn}:kms:${local.in_region}:key/*",
      "${local.arn}:kms:${local.in_region}:alias/${var.name}-apprunner",
      "${local.arn}:kms:${local.in_region}:alias/${var.name}-ecs-express",
    ]

    condition {
      test     = "ForAnyValue:StringLike"
      variable = "kms:ResourceAliases"
      values   = ["alias/${var.name}-apprunner", "alias/${var.name}-ecs-express"]
    }
  }

  statement {
    sid       = "ListTheServiceStacksState"
    actions   = ["s3:ListBucket"]
    resources = ["${local.arn}:s3:::${var.state_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["apprunner/*", "ecs-express/*"]
    }
  }

  statement {
    sid     = "ChangeTheServiceStacksState"
    actions = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = [
      "${local.arn}:s3:::${var.state_bucket}/apprunner/*",
      "${local.arn}:s3:::${var.state_bucket}/ecs-express/*",
    ]
  }

  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [data.aws_kms_alias.state.target_key_arn]
  }

  statement {
    sid     = "ListingsWithoutResourceScopes"
    actions = ["kms:ListAliases", "logs:DescribeLogGroups"]
    # These actions support no resource-level permissions.
    resources = ["*"]
  }
}

module "destroy_role" {
  source = "../../modules/github-actions-role"

  name              = "${var.name}-github-destroy"
  description       = "Tears the ${var.name} service stacks down from GitHub Actions, after a reviewer approves."
  oidc_provider_arn = module.github_oidc.arn
  github_repository = var.github_repository
  subjects          = var.destroy_subjects
  policy_json       = data.aws_iam_policy_document.destroy.json
}
