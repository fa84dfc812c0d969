output "alarm_arns" {
  description = "ARNs of the alarms."
  value       = concat([aws_cloudwatch_metric_alarm.at_max_capacity.arn], aws_cloudwatch_metric_alarm.refused_surge[*].arn)
}
