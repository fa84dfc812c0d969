output "health_check_arn" {
  description = "ARN of the health check."
  value       = aws_route53_health_check.this.arn
}

output "key_arn" {
  description = "The KMS key, in metrics_region, that encrypts the probe's topics."
  value       = module.key.key_arn
}

output "topics" {
  description = "The probe's topics in metrics_region: page and ticket ARNs, all of them, and those with an e-mail subscription managed here."
  value = {
    page       = module.topics.page_topic_arn
    ticket     = module.topics.ticket_topic_arn
    all        = module.topics.topic_arns
    subscribed = module.topics.subscribed_topic_arns
  }
}

output "slo" {
  description = "The probe's SLO as infra/modules/slo-alarms gives it: alarm and alert ARNs, error budget, burn rates, and queries."
  value = {
    alarm_arns   = module.slo.alarm_arns
    alert_arns   = module.slo.alert_arns
    error_budget = module.slo.error_budget
    burn_rates   = module.slo.burn_rates
    queries      = module.slo.queries
  }
}
