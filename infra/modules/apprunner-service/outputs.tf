output "service_url" {
  description = "HTTPS URL of the service."
  value       = "https://${aws_apprunner_service.this.service_url}"
}

output "service_arn" {
  description = "ARN of the service."
  value       = aws_apprunner_service.this.arn
}

output "service_id" {
  description = "ID App Runner gave the service (a metric dimension)."
  value       = aws_apprunner_service.this.service_id
}

output "service_name" {
  description = "Name of the service (a metric dimension)."
  value       = aws_apprunner_service.this.service_name
}

output "access_role_arn" {
  description = "ARN of the role App Runner uses to pull the image."
  value       = aws_iam_role.access.arn
}

output "auto_scaling_configuration_arn" {
  description = "ARN of the service's auto-scaling configuration."
  value       = aws_apprunner_auto_scaling_configuration_version.this.arn
}

output "observability_configuration_arn" {
  description = "ARN of the service's observability configuration."
  value       = aws_apprunner_observability_configuration.this.arn
}
