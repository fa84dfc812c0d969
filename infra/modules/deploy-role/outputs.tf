output "role_arn" {
  description = "ARN of the deploy role, for the release workflow."
  value       = module.role.role_arn
}
