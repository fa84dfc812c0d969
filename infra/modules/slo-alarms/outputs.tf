output "alarm_arns" {
  description = "ARNs of every alarm: the windows' and the alerts'."
  value       = concat([for a in aws_cloudwatch_metric_alarm.window : a.arn], [for a in aws_cloudwatch_composite_alarm.alert : a.arn])
}

output "alert_arns" {
  description = "ARNs of the alerts (composite alarms), the ones that notify."
  value       = [for a in aws_cloudwatch_composite_alarm.alert : a.arn]
}

output "error_budget" {
  description = "The error budget as a ratio of valid events (0.001 for 99.9 %)."
  value       = local.budget
}

output "queries" {
  description = "The SLI as its metrics (each with its statistic) and the bad, valid and ratio expressions over their ids, for the dashboard and scripts/error-budget.sh, which choose the period."
  value = {
    metrics = var.metrics
    bad     = var.bad_events
    valid   = var.valid_events
    ratio   = local.ratio
  }
}

output "burn_rates" {
  description = "Each alert's burn rate, by its long window's name (page-1h: 14.4 at the defaults)."
  value       = { for a in local.alerts : a.long => a.burn_rate }
}
