output "alarm_arns" {
  description = "Every alarm: the SLOs' windows and alerts, the probe's, and the tickets."
  value = concat(
    module.alarms.alarm_arns,
    flatten([for s in module.slo : s.alarm_arns]),
    module.probe.slo.alarm_arns,
  )
}

output "topic_arns" {
  description = "Every topic: the stack's page and ticket topics, and the probe's."
  value       = concat(module.topics.topic_arns, module.probe.topics.all)
}

output "subscribed_topic_arns" {
  description = "The topics with an e-mail subscription managed here."
  value       = concat(module.topics.subscribed_topic_arns, module.probe.topics.subscribed)
}

output "page_topic_arns" {
  description = "The page topics: the stack's, and the probe's in its metrics region."
  value       = [module.topics.page_topic_arn, module.probe.topics.page]
}

output "ticket_topic_arns" {
  description = "The ticket topics: the stack's, and the probe's in its metrics region."
  value       = [module.topics.ticket_topic_arn, module.probe.topics.ticket]
}

output "probe_key_arn" {
  description = "The KMS key that encrypts the probe's topics, in the probe's metrics region."
  value       = module.probe.key_arn
}

output "health_check_arn" {
  description = "ARN of the probe's Route 53 health check."
  value       = module.probe.health_check_arn
}

output "dashboard_arn" {
  description = "ARN of the dashboard."
  value       = module.dashboard.dashboard_arn
}

output "dashboard_url" {
  description = "The dashboard in the CloudWatch console."
  value       = module.dashboard.url
}

output "slos" {
  description = "Each SLO's objective, region and SLI as metric-data queries: scripts/error-budget.sh reads what is left of the budgets with them."
  value = { for k, s in local.slos : k => {
    objective_percent = s.objective_percent
    window_days       = var.window_days
    region            = s.region
    queries           = s.queries
  } }
}
