# What pages someone: a 5xx rate, p99 latency, running at the scaling
# maximum (the cost cap may be starving demand), and, where the platform's
# logs give the metric, a surge of requests the service refused as
# malformed (a scanner, or a proxy that frames requests differently). Each alarm fires on 3 bad
# minutes out of 5 (capacity: 3 periods of 5 minutes), notifies an encrypted
# SNS topic, and notifies it again when it clears.

data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "server_error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than ${var.error_rate_threshold_percent}% of requests answered 5xx in 3 of the last 5 minutes (minutes with under ${var.error_rate_min_requests} requests ignored). Look at the service's error and panic log lines."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    label       = "5xx responses (%)"
    expression  = "IF(FILL(requests, 0) >= ${var.error_rate_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = var.server_errors_metric.namespace
      metric_name = var.server_errors_metric.metric_name
      dimensions  = var.server_errors_metric.dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = var.requests_metric.namespace
      metric_name = var.requests_metric.metric_name
      dimensions  = var.requests_metric.dimensions
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  alarm_name          = "${var.name}-latency-p99"
  alarm_description   = "p99 request latency above ${var.latency_p99_threshold_ms} ms in 3 of the last 5 minutes."
  namespace           = var.latency_metric.namespace
  metric_name         = var.latency_metric.metric_name
  dimensions          = var.latency_metric.dimensions
  extended_statistic  = "p99"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.latency_p99_threshold_ms * var.latency_metric.units_per_ms
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "refused_surge" {
  count = var.refused_metric == null ? 0 : 1

  alarm_name          = "${var.name}-refused-surge"
  alarm_description   = "Over ${var.refused_per_minute_threshold} requests a minute refused as malformed (400, 408, 414, 417, 431, 505) in 3 of the last 5 minutes. The request log lines' error field names the reason."
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
  alarm_description   = "Running at the scaling maximum (${var.max_capacity}) for 15 minutes: demand may exceed capacity. Raise the maximum if the cost is acceptable."
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
