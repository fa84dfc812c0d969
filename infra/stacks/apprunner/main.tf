# The service on AWS App Runner, for accounts that have App Runner (it closed
# to new customers on 2026-04-30; see infra/stacks/ecs-express otherwise).

provider "aws" {
  default_tags {
    # The project tags come last, so that var.tags cannot change them: the
    # CI roles find the stacks' KMS keys by them.
    tags = merge(var.tags, { Project = var.name, ManagedBy = "terraform", Stack = "apprunner" })
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
  prefix            = "${var.name}-apprunner"
  partition         = data.aws_partition.current.partition
  account           = data.aws_caller_identity.current.account_id
  region            = data.aws_region.current.region
  repository_arn    = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.name}"
  oidc_provider_arn = "arn:${local.partition}:iam::${local.account}:oidc-provider/token.actions.githubusercontent.com"
}

module "key" {
  source = "../../modules/kms-key"

  name                    = local.prefix
  description             = "Encrypts the WAF logs and alarm topic of ${var.name} on App Runner."
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
}

module "service" {
  source = "../../modules/apprunner-service"

  name               = var.name
  image              = var.image
  ecr_repository_arn = local.repository_arn
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

  name              = var.name
  stack             = "apprunner"
  github_repository = var.github_repository
  subjects          = var.deploy_subjects
  oidc_provider_arn = local.oidc_provider_arn
  state_bucket      = var.state_bucket
  repository_arn    = local.repository_arn

  refresh = {
    roles                    = [module.service.access_role_arn]
    kms_keys                 = [module.key.key_arn]
    web_acl                  = module.waf.web_acl_arn
    protected_resources      = [module.service.service_arn]
    load_balancers           = []
    log_groups               = [module.waf.log_group_arn]
    metric_filter_log_groups = []
    alarms                   = module.alarms.alarm_arns
    topic                    = module.alarms.topic_arn
    topic_has_subscriptions  = module.alarms.has_subscriptions
  }

  service_statements = [
    {
      sid = "RefreshAndUpdateTheService"
      actions = [
        "apprunner:DescribeService",
        "apprunner:DescribeWebAclForService",
        "apprunner:ListTagsForResource",
        "apprunner:UpdateService",
      ]
      resources = [module.service.service_arn]
    },
    {
      sid       = "RefreshTheAutoScalingConfiguration"
      actions   = ["apprunner:DescribeAutoScalingConfiguration", "apprunner:ListTagsForResource"]
      resources = [module.service.auto_scaling_configuration_arn]
    },
    {
      sid       = "RefreshTheObservabilityConfiguration"
      actions   = ["apprunner:DescribeObservabilityConfiguration", "apprunner:ListTagsForResource"]
      resources = [module.service.observability_configuration_arn]
    },
  ]

  # UpdateService resends the access role. App Runner's documents disagree
  # on the iam:PassedToService it presents, so the grant names the role,
  # which only build.apprunner.amazonaws.com may assume.
  pass_roles = [
    { role_arn = module.service.access_role_arn, services = [] },
  ]
}
