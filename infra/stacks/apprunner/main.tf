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
  # Where operators read the SLOs and runbooks: alarms link there.
  docs_url = "https://github.com/${var.github_repository}/blob/main/docs"

  # The SLIs are App Runner's own request metrics, taken where users meet
  # the service: its load balancer. docs/slo.md states each exactly.
  slis = {
    availability = {
      promise           = "${var.availability_objective_percent} % of valid requests answered without a 5xx over ${var.slo_window_days} days"
      objective_percent = var.availability_objective_percent
      metrics = {
        requests = merge(local.app_runner_metric, { metric_name = "Requests", stat = "Sum" })
        status4  = merge(local.app_runner_metric, { metric_name = "4xxStatusResponses", stat = "Sum" })
        status5  = merge(local.app_runner_metric, { metric_name = "5xxStatusResponses", stat = "Sum" })
      }
      bad   = "FILL(status5, 0)"
      valid = "FILL(requests, 0) - FILL(status4, 0)"
    }
    latency = {
      promise           = "${var.latency_objective_percent} % of requests answered within ${var.latency_threshold_ms} ms over ${var.slo_window_days} days"
      objective_percent = var.latency_objective_percent
      metrics = {
        answered = merge(local.app_runner_metric, { metric_name = "RequestLatency", stat = "SampleCount" })
        # Trimmed count: the requests that took at most the threshold (ms).
        fast = merge(local.app_runner_metric, { metric_name = "RequestLatency", stat = "TC(:${var.latency_threshold_ms})" })
      }
      # fast is not filled: if App Runner gave no trimmed count, a window
      # has no ratio (an alarm's missing data), not every request slow.
      bad   = "FILL(answered, 0) - fast"
      valid = "FILL(answered, 0)"
    }
  }
}

module "observability" {
  source = "../../modules/observability"

  name               = local.prefix
  region             = local.region
  docs_url           = local.docs_url
  kms_key_arn        = module.key.key_arn
  slis               = local.slis
  window_days        = var.slo_window_days
  min_valid_requests = var.slo_min_valid_requests
  page_email         = var.page_email
  ticket_email       = var.ticket_email
  # App Runner names its application log group after the service's id.
  log_group_names      = ["/aws/apprunner/${module.service.service_name}/${module.service.service_id}/application"]
  latency_threshold_ms = var.latency_threshold_ms
  web_acl_metric_name  = module.waf.metric_name

  probe = {
    host              = trimprefix(module.service.service_url, "https://")
    checker_regions   = var.probe_checker_regions
    metrics_region    = var.probe_metrics_region
    objective_percent = var.availability_objective_percent
  }
  capacity = merge(local.app_runner_metric, {
    metric_name  = "ActiveInstances"
    max_capacity = var.max_size
  })
  latency = {
    namespace      = local.app_runner_metric.namespace
    metric_name    = "RequestLatency"
    dimension_sets = [local.app_runner_metric.dimensions]
    threshold      = var.latency_threshold_ms
    unit           = "milliseconds"
  }
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
    kms_keys                 = [module.key.key_arn, module.observability.probe_key_arn]
    web_acl                  = module.waf.web_acl_arn
    protected_resources      = [module.service.service_arn]
    load_balancers           = []
    log_groups               = [module.waf.log_group_arn]
    metric_filter_log_groups = []
    alarms                   = module.observability.alarm_arns
    topics                   = module.observability.topic_arns
    subscribed_topics        = module.observability.subscribed_topic_arns
    dashboards               = [module.observability.dashboard_arn]
    health_checks            = [module.observability.health_check_arn]
    query_definitions        = true
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
