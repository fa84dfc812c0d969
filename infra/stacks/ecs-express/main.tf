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
  # Where operators read the SLOs and runbooks: alarms link there.
  docs_url = "https://github.com/${var.github_repository}/blob/main/docs"

  # The SLIs are measured where users meet the service: Express Mode's
  # load balancer, for the service's target groups on it. They are known
  # once the service exists (scripts/deploy.sh passes them); until then
  # there is nothing to measure. docs/slo.md states each SLI exactly.
  measured      = var.load_balancer_arn != null && length(var.target_group_arns) > 0
  load_balancer = local.measured ? split("loadbalancer/", var.load_balancer_arn)[1] : ""
  # The dimension values are the ARNs' last parts: app/<name>/<id> and
  # targetgroup/<name>/<id>. Every target group of the ingress path is
  # summed, since a deployment may move traffic from one to another.
  at_edge = { for i, arn in var.target_group_arns : tostring(i) => { TargetGroup = split(":", arn)[5], LoadBalancer = local.load_balancer } }
  # Per metric id, the sum over the target groups, a missing minute as 0.
  summed = { for id in ["requests", "target4", "target5", "answered", "fast"] :
    id => join(" + ", [for i in keys(local.at_edge) : "FILL(${id}${i}, 0)"])
  }
  per_group = { for i, dimensions in local.at_edge : i => {
    requests = { namespace = "AWS/ApplicationELB", metric_name = "RequestCount", dimensions = dimensions, stat = "Sum" }
    target4  = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_Target_4XX_Count", dimensions = dimensions, stat = "Sum" }
    target5  = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_Target_5XX_Count", dimensions = dimensions, stat = "Sum" }
    answered = { namespace = "AWS/ApplicationELB", metric_name = "TargetResponseTime", dimensions = dimensions, stat = "SampleCount" }
    # Trimmed count: the responses that took at most the threshold, which
    # AWS lists among the load balancer's statistics.
    fast = { namespace = "AWS/ApplicationELB", metric_name = "TargetResponseTime", dimensions = dimensions, stat = "TC(:${var.latency_threshold_ms / 1000})" }
  } }
  availability_metrics = merge({
    # The load balancer's own 5xx have only the LoadBalancer dimension: on
    # a shared load balancer, its other services' count too (docs/slo.md).
    edge5 = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_ELB_5XX_Count", dimensions = { LoadBalancer = local.load_balancer }, stat = "Sum" }
    }, [for i, m in local.per_group : {
      "requests${i}" = m.requests
      "target4${i}"  = m.target4
      "target5${i}"  = m.target5
  }]...)
  latency_metrics = merge({}, [for i, m in local.per_group : {
    "answered${i}" = m.answered
    "fast${i}"     = m.fast
  }]...)

  slis = {
    availability = {
      promise           = "${var.availability_objective_percent} % of valid requests answered without a 5xx over ${var.slo_window_days} days"
      objective_percent = var.availability_objective_percent
      metrics           = local.availability_metrics
      bad               = "${local.summed.target5} + FILL(edge5, 0)"
      valid             = "${local.summed.requests} - (${local.summed.target4}) + FILL(edge5, 0)"
    }
    latency = {
      promise           = "${var.latency_objective_percent} % of requests answered within ${var.latency_threshold_ms} ms over ${var.slo_window_days} days"
      objective_percent = var.latency_objective_percent
      metrics           = local.latency_metrics
      bad               = "${local.summed.answered} - (${local.summed.fast})"
      valid             = local.summed.answered
    }
  }
}

module "observability" {
  source = "../../modules/observability"

  name                 = local.prefix
  region               = local.region
  docs_url             = local.docs_url
  kms_key_arn          = module.key.key_arn
  slis                 = { for k, v in local.slis : k => v if local.measured }
  window_days          = var.slo_window_days
  min_valid_requests   = var.slo_min_valid_requests
  page_email           = var.page_email
  ticket_email         = var.ticket_email
  log_group_names      = [module.service.log_group_name]
  latency_threshold_ms = var.latency_threshold_ms
  web_acl_metric_name  = module.waf.metric_name
  refused_metric       = merge(local.log_metric, { metric_name = "RefusedRequests" })

  probe = {
    host              = module.service.endpoint_host
    checker_regions   = var.probe_checker_regions
    metrics_region    = var.probe_metrics_region
    objective_percent = var.availability_objective_percent
  }
  capacity = {
    namespace    = "ECS/ContainerInsights"
    metric_name  = "RunningTaskCount"
    dimensions   = { ClusterName = module.service.cluster_name, ServiceName = module.service.service_name }
    max_capacity = var.max_tasks
  }
  latency = local.measured ? {
    namespace      = "AWS/ApplicationELB"
    metric_name    = "TargetResponseTime"
    dimension_sets = values(local.at_edge)
    threshold      = var.latency_threshold_ms / 1000
    unit           = "seconds"
  } : null
  service_log_metrics = {
    requests               = merge(local.log_metric, { metric_name = "Requests" })
    "5xx"                  = merge(local.log_metric, { metric_name = "ServerErrors" })
    "refused as malformed" = merge(local.log_metric, { metric_name = "RefusedRequests" })
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
    kms_keys                 = [module.key.key_arn, module.observability.probe_key_arn]
    web_acl                  = module.waf.web_acl_arn
    protected_resources      = local.load_balancers
    load_balancers           = local.load_balancers
    log_groups               = [module.waf.log_group_arn, module.service.log_group_arn]
    metric_filter_log_groups = [module.service.log_group_arn]
    alarms                   = module.observability.alarm_arns
    topics                   = module.observability.topic_arns
    subscribed_topics        = module.observability.subscribed_topic_arns
    dashboards               = [module.observability.dashboard_arn]
    health_checks            = [module.observability.health_check_arn]
    query_definitions        = true
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
