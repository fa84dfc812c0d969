output "page_topic_arn" {
  description = "ARN of the topic for pages: an alert that needs someone now."
  value       = aws_sns_topic.this["page"].arn
}

output "ticket_topic_arn" {
  description = "ARN of the topic for tickets: an alert that needs someone within days."
  value       = aws_sns_topic.this["ticket"].arn
}

output "topic_arns" {
  description = "ARNs of both topics."
  value       = [for t in aws_sns_topic.this : t.arn]
}

output "subscribed_topic_arns" {
  description = "ARNs of the topics with an e-mail subscription managed here (refreshing one needs sns:GetSubscriptionAttributes, authorized against the topic: infra/permissions/calls.yaml)."
  value       = [for severity in keys(local.emails) : aws_sns_topic.this[severity].arn]
}
