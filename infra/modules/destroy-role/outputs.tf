output "role_arn" {
  description = "ARN of the destroy role, for the destroy workflow (GitHub variable AWS_DESTROY_ROLE_ARN)."
  value       = module.role.role_arn
}
