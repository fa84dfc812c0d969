# A black-box probe and its alerts: Route 53 health checkers in several
# AWS regions ask the service's public HTTPS endpoint a real question over
# the internet, as a client would, and expect the right answer in the
# body. It sees what no metric inside the stack sees: DNS, the TLS
# endpoint, the WAF, the load balancer and the service, end to end.
#
# Route 53 publishes the checkers' results as CloudWatch metrics in
# us-east-1 only, so the alarms on them live there (metrics_region), and
# notify topics of their own there, encrypted with a key of their own
# there: a key encrypts only in its region.

resource "aws_route53_health_check" "this" {
  type              = "HTTPS_STR_MATCH"
  fqdn              = var.host
  port              = 443
  enable_sni        = true
  resource_path     = var.path
  search_string     = var.expect
  regions           = var.checker_regions
  request_interval  = var.request_interval
  failure_threshold = var.failure_threshold
  measure_latency   = false
  tags              = merge(var.tags, { Name = var.name })
}

locals {
  # HealthCheckStatus is Route 53's verdict each minute: 1 while enough
  # checkers find the answer right (more than 18 % of them), else 0.
  metric = {
    namespace   = "AWS/Route53"
    metric_name = "HealthCheckStatus"
    dimensions  = { HealthCheckId = aws_route53_health_check.this.id }
  }
}

module "key" {
  source = "../kms-key"

  name                    = "${var.name}-probe"
  region                  = var.metrics_region
  description             = "Encrypts the probe's alert topics of ${var.name}."
  create_alias            = false
  allow_cloudwatch_logs   = false
  allow_cloudwatch_alarms = true
  tags                    = var.tags
}

module "topics" {
  source = "../alert-topics"

  name         = "${var.name}-probe"
  region       = var.metrics_region
  kms_key_arn  = module.key.key_arn
  page_email   = var.page_email
  ticket_email = var.ticket_email
  tags         = var.tags
}

module "slo" {
  source = "../slo-alarms"

  name              = "${var.name}-probe"
  region            = var.metrics_region
  promise           = "${var.objective_percent} % of minutes with the endpoint answering right, seen from the internet, over ${var.window_days} days"
  objective_percent = var.objective_percent
  window_days       = var.window_days
  metrics = {
    up      = merge(local.metric, { stat = "Average" })
    samples = merge(local.metric, { stat = "SampleCount" })
  }
  # A minute's share of down, weighted by its samples.
  bad_events       = "FILL(samples, 0) * (1 - FILL(up, 1))"
  valid_events     = "FILL(samples, 0)"
  page_topic_arn   = module.topics.page_topic_arn
  ticket_topic_arn = module.topics.ticket_topic_arn
  runbook_url      = var.runbook_url
  tags             = var.tags
}
