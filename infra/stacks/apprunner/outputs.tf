output "service_url" {
  description = "HTTPS URL of the service: scripts/deploy.sh smoke-tests it."
  value       = module.service.service_url
}

output "image" {
  description = "The image last applied, by digest. A failed apply records it too, so it is not the rollback target: scripts/last-good.sh keeps that."
  value       = var.image
}

output "service_arn" {
  description = "ARN of the App Runner service."
  value       = module.service.service_arn
}

output "access_role_arn" {
  description = "Role App Runner pulls the image with."
  value       = module.service.access_role_arn
}

output "deploy_role_arn" {
  description = "Role the release workflow deploys with (GitHub variable AWS_DEPLOY_ROLE_ARN)."
  value       = module.deploy_role.role_arn
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL in front of the service."
  value       = module.waf.web_acl_arn
}

output "page_topic_arns" {
  description = "SNS topics of pages (alerts that need someone now): the stack's, and the probe's in probe_metrics_region. Subscribe a pager to both."
  value       = module.observability.page_topic_arns
}

output "ticket_topic_arns" {
  description = "SNS topics of tickets (alerts that need someone within days), and of the capacity and refused-surge alarms."
  value       = module.observability.ticket_topic_arns
}

output "dashboard_url" {
  description = "The stack's CloudWatch dashboard: scripts/deploy.sh prints it after a deploy."
  value       = module.observability.dashboard_url
}

output "slos" {
  description = "Each SLO's objective, window, region and SLI as metric-data queries: scripts/error-budget.sh reads what is left of the budgets with them."
  value       = module.observability.slos
}
