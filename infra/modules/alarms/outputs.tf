output "topic_arn" {
  description = "ARN of the SNS topic the alarms notify; subscribe pagers or chat to it."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_arns" {
  description = "ARNs of the alarms."
  value = concat([
    aws_cloudwatch_metric_alarm.server_error_rate.arn,
    aws_cloudwatch_metric_alarm.latency_p99.arn,
    aws_cloudwatch_metric_alarm.at_max_capacity.arn,
  ], aws_cloudwatch_metric_alarm.refused_surge[*].arn)
}

output "has_subscriptions" {
  description = "Whether the topic has a subscription managed here (refreshing one needs sns:GetSubscriptionAttributes, authorized against the topic: infra/permissions/calls.yaml)."
  value       = var.alarm_email != null
}

output "alarm_names" {
  description = "Names of the alarms."
  value = concat([
    aws_cloudwatch_metric_alarm.server_error_rate.alarm_name,
    aws_cloudwatch_metric_alarm.latency_p99.alarm_name,
    aws_cloudwatch_metric_alarm.at_max_capacity.alarm_name,
  ], aws_cloudwatch_metric_alarm.refused_surge[*].alarm_name)
}
