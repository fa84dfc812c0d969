# Everything an operator watches for one service stack: its SLOs'
# burn-rate alerts (infra/modules/slo-alarms) on page and ticket topics,
# the black-box probe and its alerts, the tickets that are not about an
# SLO (capacity, refused heads), the runbooks' saved queries, and the
# dashboard. The stack says what to measure (its SLIs, metrics and log
# groups); this module decides how it is watched, the same for every
# platform. docs/slo.md and docs/operations.md describe the result.

locals {
  runbook = "${var.docs_url}/operations.md"
}

module "topics" {
  source = "../alert-topics"

  name         = var.name
  kms_key_arn  = var.kms_key_arn
  page_email   = var.page_email
  ticket_email = var.ticket_email
  tags         = var.tags
}

module "slo" {
  source   = "../slo-alarms"
  for_each = var.slis

  name              = "${var.name}-${each.key}"
  promise           = each.value.promise
  objective_percent = each.value.objective_percent
  window_days       = var.window_days
  metrics           = each.value.metrics
  bad_events        = each.value.bad
  valid_events      = each.value.valid
  min_valid_events  = var.min_valid_requests
  page_topic_arn    = module.topics.page_topic_arn
  ticket_topic_arn  = module.topics.ticket_topic_arn
  runbook_url       = "${local.runbook}#${each.key}-alerts"
  tags              = var.tags
}

# The black-box probe, with its alerts where Route 53 publishes its
# metrics. It keeps the availability promise, seen from the internet.
module "probe" {
  source = "../black-box-probe"

  name              = var.name
  host              = var.probe.host
  checker_regions   = var.probe.checker_regions
  metrics_region    = var.probe.metrics_region
  objective_percent = var.probe.objective_percent
  window_days       = var.window_days
  page_email        = var.page_email
  ticket_email      = var.ticket_email
  runbook_url       = "${local.runbook}#probe-alerts"
  tags              = var.tags
}

module "alarms" {
  source = "../alarms"

  name            = var.name
  topic_arn       = module.topics.ticket_topic_arn
  runbook_url     = local.runbook
  max_capacity    = var.capacity.max_capacity
  refused_metric  = var.refused_metric
  capacity_metric = { namespace = var.capacity.namespace, metric_name = var.capacity.metric_name, dimensions = var.capacity.dimensions }
  tags            = var.tags
}

module "queries" {
  source = "../log-queries"

  name                 = var.name
  log_group_names      = var.log_group_names
  latency_threshold_ms = var.latency_threshold_ms
}

locals {
  # Each SLO as the dashboard and scripts/error-budget.sh read it.
  slos = merge(
    { for k, s in module.slo : k => {
      title             = title(k)
      objective_percent = var.slis[k].objective_percent
      region            = var.region
      error_budget      = s.error_budget
      burn_rates        = s.burn_rates
      queries           = s.queries
    } },
    { probe = {
      title             = "Probe"
      objective_percent = var.probe.objective_percent
      region            = var.probe.metrics_region
      error_budget      = module.probe.slo.error_budget
      burn_rates        = module.probe.slo.burn_rates
      queries           = module.probe.slo.queries
    } },
  )
}

module "dashboard" {
  source = "../dashboard"

  name     = var.name
  region   = var.region
  docs_url = var.docs_url
  slos = [for k in concat(keys(module.slo), ["probe"]) : {
    title        = local.slos[k].title
    region       = local.slos[k].region
    window_days  = var.window_days
    error_budget = local.slos[k].error_budget
    burn_rates   = local.slos[k].burn_rates
    queries      = local.slos[k].queries
  }]
  latency             = var.latency
  service_log_metrics = var.service_log_metrics
  web_acl_metric_name = var.web_acl_metric_name
  capacity            = var.capacity
  alert_arns          = concat(flatten([for s in module.slo : s.alert_arns]), module.probe.slo.alert_arns)
}
