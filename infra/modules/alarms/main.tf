# Alarms that are not about an SLO, and open tickets rather than pages:
# running at the scaling maximum (the cost cap may be starving demand),
# and, where the platform's logs give the metric, a surge of requests the
# service refused as malformed (a scanner, or a proxy that frames requests
# differently). Users' pain pages through the SLOs' burn-rate alerts
# (infra/modules/slo-alarms); these say why it may come.

locals {
  actions = [var.topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "refused_surge" {
  count = var.refused_metric == null ? 0 : 1

  alarm_name          = "${var.name}-refused-surge"
  alarm_description   = "Over ${var.refused_per_minute_threshold} requests a minute refused as malformed (400, 408, 414, 417, 431, 505) in 3 of the last 5 minutes. Runbook: ${var.runbook_url}#refused-surge"
  namespace           = var.refused_metric.namespace
  metric_name         = var.refused_metric.metric_name
  dimensions          = var.refused_metric.dimensions
  statistic           = "Sum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.refused_per_minute_threshold
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "at_max_capacity" {
  alarm_name          = "${var.name}-at-max-capacity"
  alarm_description   = "Running at the scaling maximum (${var.max_capacity}) for 15 minutes: demand may exceed capacity. Runbook: ${var.runbook_url}#at-max-capacity"
  namespace           = var.capacity_metric.namespace
  metric_name         = var.capacity_metric.metric_name
  dimensions          = var.capacity_metric.dimensions
  statistic           = "Maximum"
  period              = 300
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.max_capacity
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
