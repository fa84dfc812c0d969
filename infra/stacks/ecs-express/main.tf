# The service on Amazon ECS Express Mode: what AWS recommends to accounts
# without App Runner. Express Mode runs the tasks on Fargate behind a load
# balancer, certificate and scaling policy that it manages itself.

provider "aws" {
  default_tags {
    tags = merge({ Project = var.name, ManagedBy = "terraform", Stack = "ecs-express" }, var.tags)
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
  prefix = "${var.name}-ecs-express"
  ecs    = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}"
}

module "key" {
  source = "../../modules/kms-key"

  name                    = local.prefix
  description             = "Encrypts the logs and alarm topic of ${var.name} on ECS Express Mode."
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

resource "aws_wafv2_web_acl_association" "load_balancer" {
  count = var.load_balancer_arn == null ? 0 : 1

  resource_arn = var.load_balancer_arn
  web_acl_arn  = module.waf.web_acl_arn
}

module "service" {
  source = "../../modules/ecs-express-service"

  name                 = var.name
  image                = var.image
  ecr_repository_arn   = data.aws_ecr_repository.this.arn
  cpu                  = var.cpu
  memory               = var.memory
  min_tasks            = var.min_tasks
  max_tasks            = var.max_tasks
  scaling_metric       = var.scaling_metric
  scaling_target_value = var.scaling_target_value
  subnets              = var.subnets
  security_groups      = var.security_groups
  log_retention_days   = var.log_retention_days
  kms_key_arn          = module.key.key_arn
  environment          = var.environment
}

locals {
  log_metric = { namespace = module.service.metrics_namespace, dimensions = {} }
}

module "alarms" {
  source = "../../modules/alarms"

  name                         = local.prefix
  alarm_email                  = var.alarm_email
  kms_key_arn                  = module.key.key_arn
  max_capacity                 = var.max_tasks
  error_rate_threshold_percent = var.error_rate_threshold_percent
  latency_p99_threshold_ms     = var.latency_p99_threshold_ms

  requests_metric      = merge(local.log_metric, { metric_name = "Requests" })
  server_errors_metric = merge(local.log_metric, { metric_name = "ServerErrors" })
  latency_metric       = merge(local.log_metric, { metric_name = "RequestDuration", units_per_ms = 1000 })
  capacity_metric = {
    namespace   = "ECS/ContainerInsights"
    metric_name = "RunningTaskCount"
    dimensions  = { ClusterName = module.service.cluster_name, ServiceName = module.service.service_name }
  }
}

module "deploy_role" {
  source = "../../modules/deploy-role"

  name               = var.name
  stack              = "ecs-express"
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
        "ecs:DescribeExpressGatewayService",
        "ecs:DescribeServiceDeployments",
        "ecs:DescribeServiceRevisions",
        "ecs:DescribeServices",
        "ecs:ListServiceDeployments",
        "ecs:ListTagsForResource",
        "ecs:UpdateExpressGatewayService",
      ]
      resources = [
        "${local.ecs}:service/${var.name}/${var.name}",
        "${local.ecs}:service-deployment/${var.name}/${var.name}/*",
        "${local.ecs}:service-revision/${var.name}/${var.name}/*",
      ]
    },
    {
      sid       = "ReadTheCluster"
      actions   = ["ecs:DescribeClusters", "ecs:ListTagsForResource"]
      resources = ["${local.ecs}:cluster/${var.name}"]
    },
  ]

  pass_roles = [
    { role_arn = module.service.execution_role_arn, service = "ecs-tasks.amazonaws.com" },
    { role_arn = module.service.infrastructure_role_arn, service = "ecs.amazonaws.com" },
  ]
}
