output "service_url" {
  description = "HTTPS URL of the service: scripts/deploy.sh smoke-tests it."
  value       = module.service.service_url
}

output "image" {
  description = "The image last applied, by digest. A failed apply records it too, so it is not the rollback target: scripts/last-good.sh keeps that."
  value       = var.image
}

output "service_arn" {
  description = "ARN of the ECS Express service."
  value       = module.service.service_arn
}

output "service_revision_arn" {
  description = "ARN of the current service revision: scripts/deploy.sh describes it to find the load balancer."
  value       = module.service.service_revision_arn
}

output "execution_role_arn" {
  description = "Role ECS pulls the image and writes logs with."
  value       = module.service.execution_role_arn
}

output "infrastructure_role_arn" {
  description = "Role Express Mode manages the load balancer and scaling with."
  value       = module.service.infrastructure_role_arn
}

output "deploy_role_arn" {
  description = "Role the release workflow deploys with (GitHub variable AWS_DEPLOY_ROLE_ARN)."
  value       = module.deploy_role.role_arn
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL; associated once load_balancer_arn is set."
  value       = module.waf.web_acl_arn
}

output "waf_load_balancer_arn" {
  description = "The load balancer the web ACL is associated with, as the state has it; empty before the first association."
  value       = var.load_balancer_arn == null ? "" : aws_wafv2_web_acl_association.load_balancer[0].resource_arn
}

output "log_group_name" {
  description = "CloudWatch log group of the service."
  value       = module.service.log_group_name
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
