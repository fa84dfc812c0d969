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

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.alarms.topic_arn
}
