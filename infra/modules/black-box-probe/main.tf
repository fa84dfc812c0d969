# A black-box probe: Route 53 health checkers in several AWS regions ask
# the service's public HTTPS endpoint a real question over the internet,
# as a client would, and expect the right answer in the body. It sees what
# no metric inside the stack sees: DNS, the certificate, the WAF, the load
# balancer and the service, end to end.
#
# Route 53 publishes the checkers' results as CloudWatch metrics in
# us-east-1 only, so the alarms on them live there (infra/modules/slo-alarms
# with region = the probe's metrics_region).

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
