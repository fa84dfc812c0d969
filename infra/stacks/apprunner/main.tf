# The service on AWS App Runner, for accounts that have App Runner (it closed
# to new customers on 2026-04-30; see infra/stacks/ecs-express otherwise).

provider "aws" {
  default_tags {
    tags = merge({ Project = var.name, ManagedBy = "terraform", Stack = "apprunner" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_ecr_repository" "this" {
  name = var.name
}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_kms_alias" "state" {
  name = "alias/${var.name}-tfstate"
}

locals {
  prefix      = "${var.name}-apprunner"
  apprunner   = "arn:${data.aws_partition.current.partition}:apprunner:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}"
  service_arn = "${local.apprunner}:service/${var.name}/*"
}

module "key" {
  source = "../../modules/kms-key"

  name                    = local.prefix
  description             = "Encrypts the WAF logs and alarm topic of ${var.name} on App Runner."
  allow_cloudwatch_logs   = true
  allow_cloudwatch_alarms = true
}

module "waf" {
  source = "../../modules/waf"

  name               = local.prefix
  rate_limit_per_ip  = var.rate_limit_per_ip
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.key.key_arn
}

module "service" {
  source = "../../modules/apprunner-service"

  name               = var.name
  image              = var.image
  ecr_repository_arn = data.aws_ecr_repository.this.arn
  cpu                = var.cpu
  memory             = var.memory
  min_size           = var.min_size
  max_size           = var.max_size
  max_concurrency    = var.max_concurrency
  environment        = var.environment
  web_acl_arn        = module.waf.web_acl_arn
}

locals {
  app_runner_metric = {
    namespace  = "AWS/AppRunner"
    dimensions = { ServiceName = module.service.service_name, ServiceID = module.service.service_id }
  }
}

module "alarms" {
  source = "../../modules/alarms"

  name                         = local.prefix
  alarm_email                  = var.alarm_email
  kms_key_arn                  = module.key.key_arn
  max_capacity                 = var.max_size
  error_rate_threshold_percent = var.error_rate_threshold_percent
  latency_p99_threshold_ms     = var.latency_p99_threshold_ms

  requests_metric      = merge(local.app_runner_metric, { metric_name = "Requests" })
  server_errors_metric = merge(local.app_runner_metric, { metric_name = "5xxStatusResponses" })
  latency_metric       = merge(local.app_runner_metric, { metric_name = "RequestLatency", units_per_ms = 1 })
  capacity_metric      = merge(local.app_runner_metric, { metric_name = "ActiveInstances" })
}

module "deploy_role" {
  source = "../../modules/deploy-role"

  name               = var.name
  stack              = "apprunner"
  github_repository  = var.github_repository
  subjects           = var.deploy_subjects
  oidc_provider_arn  = data.aws_iam_openid_connect_provider.github.arn
  state_bucket       = var.state_bucket
  state_kms_key_arn  = data.aws_kms_alias.state.target_key_arn
  ecr_repository_arn = data.aws_ecr_repository.this.arn

  service_statements = [
    {
      sid = "UpdateTheService"
      actions = [
        "apprunner:DescribeService",
        "apprunner:ListOperations",
        "apprunner:ListTagsForResource",
        "apprunner:UpdateService",
        "wafv2:GetWebACLForResource",
      ]
      resources = [local.service_arn]
    },
    {
      sid = "ReadTheServiceConfigurations"
      actions = [
        "apprunner:DescribeAutoScalingConfiguration",
        "apprunner:DescribeObservabilityConfiguration",
        "apprunner:ListTagsForResource",
      ]
      resources = [
        "${local.apprunner}:autoscalingconfiguration/${var.name}/*",
        "${local.apprunner}:observabilityconfiguration/${var.name}/*",
      ]
    },
  ]

  pass_roles = [
    { role_arn = module.service.access_role_arn, service = "apprunner.amazonaws.com" },
  ]
}
