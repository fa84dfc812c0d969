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
  # Where operators read the SLOs and runbooks: alarms link to them.
  docs_url = "https://github.com/${var.github_repository}/blob/main/docs"
  runbook  = "${local.docs_url}/operations.md"

  # The SLIs are App Runner's own request metrics, taken where users meet
  # the service: its load balancer. docs/slo.md states each exactly.
  slis = {
    availability = {
      promise = "${var.availability_objective_percent} % of valid requests answered without a 5xx over ${var.slo_window_days} days"
      target  = var.availability_objective_percent
      metrics = {
        requests = merge(local.app_runner_metric, { metric_name = "Requests", stat = "Sum" })
        status4  = merge(local.app_runner_metric, { metric_name = "4xxStatusResponses", stat = "Sum" })
        status5  = merge(local.app_runner_metric, { metric_name = "5xxStatusResponses", stat = "Sum" })
      }
      bad   = "FILL(status5, 0)"
      valid = "FILL(requests, 0) - FILL(status4, 0)"
    }
    latency = {
      promise = "${var.latency_objective_percent} % of requests answered within ${var.latency_threshold_ms} ms over ${var.slo_window_days} days"
      target  = var.latency_objective_percent
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

module "topics" {
  source = "../../modules/alert-topics"

  name         = local.prefix
  kms_key_arn  = module.key.key_arn
  page_email   = var.page_email
  ticket_email = var.ticket_email
}

module "slo" {
  source   = "../../modules/slo-alarms"
  for_each = local.slis

  name              = "${local.prefix}-${each.key}"
  promise           = each.value.promise
  objective_percent = each.value.target
  window_days       = var.slo_window_days
  metrics           = each.value.metrics
  bad_events        = each.value.bad
  valid_events      = each.value.valid
  min_valid_events  = var.slo_min_valid_requests
  page_topic_arn    = module.topics.page_topic_arn
  ticket_topic_arn  = module.topics.ticket_topic_arn
  runbook_url       = "${local.runbook}#${each.key}-alerts"
}

# The black-box probe, with its alerts where Route 53 publishes its
# metrics. It keeps the availability promise, seen from the internet.
module "probe" {
  source = "../../modules/black-box-probe"

  name              = local.prefix
  host              = trimprefix(module.service.service_url, "https://")
  checker_regions   = var.probe_checker_regions
  metrics_region    = var.probe_metrics_region
  objective_percent = var.availability_objective_percent
  window_days       = var.slo_window_days
  page_email        = var.page_email
  ticket_email      = var.ticket_email
  runbook_url       = "${local.runbook}#probe-alerts"
}

module "alarms" {
  source = "../../modules/alarms"

  name            = local.prefix
  topic_arn       = module.topics.ticket_topic_arn
  runbook_url     = local.runbook
  max_capacity    = var.max_size
  capacity_metric = merge(local.app_runner_metric, { metric_name = "ActiveInstances" })
}

module "queries" {
  source = "../../modules/log-queries"

  name = local.prefix
  # App Runner names its application log group after the service's id.
  log_group_names      = ["/aws/apprunner/${module.service.service_name}/${module.service.service_id}/application"]
  latency_threshold_ms = var.latency_threshold_ms
}

module "dashboard" {
  source = "../../modules/dashboard"

  name     = local.prefix
  region   = local.region
  docs_url = local.docs_url
  slos = concat(
    [for k, s in module.slo : {
      title        = title(k)
      region       = null
      window_days  = var.slo_window_days
      error_budget = s.error_budget
      burn_rates   = s.burn_rates
      queries      = s.queries
    }],
    [{
      title        = "Probe"
      region       = var.probe_metrics_region
      window_days  = var.slo_window_days
      error_budget = module.probe.slo.error_budget
      burn_rates   = module.probe.slo.burn_rates
      queries      = module.probe.slo.queries
    }],
  )
  latency = {
    namespace      = local.app_runner_metric.namespace
    metric_name    = "RequestLatency"
    dimension_sets = [local.app_runner_metric.dimensions]
    threshold      = var.latency_threshold_ms
    unit           = "milliseconds"
  }
  web_acl_metric_name = module.waf.metric_name
  capacity = merge(local.app_runner_metric, {
    metric_name  = "ActiveInstances"
    max_capacity = var.max_size
  })
  alert_arns = concat(flatten([for s in module.slo : s.alert_arns]), module.probe.slo.alert_arns)
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
    kms_keys                 = [module.key.key_arn, module.probe.key_arn]
    web_acl                  = module.waf.web_acl_arn
    protected_resources      = [module.service.service_arn]
    load_balancers           = []
    log_groups               = [module.waf.log_group_arn]
    metric_filter_log_groups = []
    alarms                   = concat(module.alarms.alarm_arns, flatten([for s in module.slo : s.alarm_arns]), module.probe.slo.alarm_arns)
    topics                   = concat(module.topics.topic_arns, module.probe.topics.all)
    subscribed_topics        = concat(module.topics.subscribed_topic_arns, module.probe.topics.subscribed)
    dashboards               = [module.dashboard.dashboard_arn]
    health_checks            = [module.probe.health_check_arn]
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
