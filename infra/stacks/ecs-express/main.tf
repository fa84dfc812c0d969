# The service on Amazon ECS Express Mode: what AWS recommends to accounts
# without App Runner. Express Mode runs the tasks on Fargate behind a load
# balancer, certificate and scaling policy that it manages itself.

provider "aws" {
  default_tags {
    # The project tags come last, so that var.tags cannot change them: the
    # CI roles find the stacks' KMS keys by them.
    tags = merge(var.tags, { Project = var.name, ManagedBy = "terraform", Stack = "ecs-express" })
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The repository (infra/stacks/registry) and GitHub's identity provider
# are named, not looked up: a lookup would cost the deploy role reads on
# every image and every provider in the account, and a missing one still
# fails the first apply.
locals {
  prefix            = "${var.name}-ecs-express"
  partition         = data.aws_partition.current.partition
  account           = data.aws_caller_identity.current.account_id
  region            = data.aws_region.current.region
  ecs               = "arn:${local.partition}:ecs:${local.region}:${local.account}"
  repository_arn    = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.name}"
  oidc_provider_arn = "arn:${local.partition}:iam::${local.account}:oidc-provider/token.actions.githubusercontent.com"
}

module "key" {
  source = "../../modules/kms-key"

  name                    = local.prefix
  description             = "Encrypts the logs and alarm topic of ${var.name} on ECS Express Mode."
  create_alias            = false
  allow_cloudwatch_logs   = true
  allow_cloudwatch_alarms = true
}

module "waf" {
  source = "../../modules/waf"

  name               = local.prefix
  rate_limit_per_ip  = var.rate_limit_per_ip
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.key.key_arn
  # The load balancer is Express Mode's, shared by the VPC's Express services.
  host = module.service.endpoint_host
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
  ecr_repository_arn   = local.repository_arn
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
  refused_metric       = merge(local.log_metric, { metric_name = "RefusedRequests" })
  capacity_metric = {
    namespace   = "ECS/ContainerInsights"
    metric_name = "RunningTaskCount"
    dimensions  = { ClusterName = module.service.cluster_name, ServiceName = module.service.service_name }
  }
}

locals {
  load_balancers = var.load_balancer_arn == null ? [] : [var.load_balancer_arn]
}

module "deploy_role" {
  source = "../../modules/deploy-role"

  name              = var.name
  stack             = "ecs-express"
  github_repository = var.github_repository
  subjects          = var.deploy_subjects
  oidc_provider_arn = local.oidc_provider_arn
  state_bucket      = var.state_bucket
  repository_arn    = local.repository_arn

  refresh = {
    roles                    = [module.service.execution_role_arn, module.service.infrastructure_role_arn]
    kms_keys                 = [module.key.key_arn]
    web_acl                  = module.waf.web_acl_arn
    protected_resources      = local.load_balancers
    load_balancers           = local.load_balancers
    log_groups               = [module.waf.log_group_arn, module.service.log_group_arn]
    metric_filter_log_groups = [module.service.log_group_arn]
    alarms                   = module.alarms.alarm_arns
    topic                    = module.alarms.topic_arn
    topic_has_subscriptions  = module.alarms.has_subscriptions
  }

  service_statements = [
    {
      sid       = "RefreshTheCluster"
      actions   = ["ecs:DescribeClusters"]
      resources = [module.service.cluster_arn]
    },
    {
      sid = "RefreshAndUpdateTheService"
      actions = [
        "ecs:DescribeExpressGatewayService",
        "ecs:ListServiceDeployments",
        "ecs:UpdateExpressGatewayService",
      ]
      resources = [module.service.service_arn]
    },
    {
      # Authorized against the service and the deployment together.
      sid     = "WatchTheDeployment"
      actions = ["ecs:DescribeServiceDeployments"]
      resources = [
        module.service.service_arn,
        "${local.ecs}:service-deployment/${module.service.cluster_name}/${module.service.service_name}/*",
      ]
    },
    {
      # scripts/deploy.sh finds the load balancer for the WAF here.
      sid     = "FindTheLoadBalancer"
      actions = ["ecs:DescribeServiceRevisions"]
      resources = [
        module.service.service_arn,
        "${local.ecs}:service-revision/${module.service.cluster_name}/${module.service.service_name}/*",
      ]
    },
    {
      # Each update registers a task definition revision, with the
      # caller's permission, in a family ECS names itself.
      sid       = "RegisterTheTaskDefinitionRevision"
      actions   = ["ecs:RegisterTaskDefinition"]
      resources = ["${local.ecs}:task-definition/*"]
    },
  ]

  # An update resends the execution role, for the task definition it
  # registers; the infrastructure role is passed only at creation. The
  # documents show ecs-tasks for task roles, and ecs for what ECS itself
  # receives; both are allowed, for this one role.
  pass_roles = [
    { role_arn = module.service.execution_role_arn, services = ["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"] },
  ]
}
