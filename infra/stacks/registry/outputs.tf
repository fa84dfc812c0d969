output "repository_name" {
  description = "Name of the ECR repository: scripts/push.sh reads it."
  value       = module.repository.repository_name
}

output "repository_url" {
  description = "URL of the ECR repository."
  value       = module.repository.repository_url
}

output "push_role_arn" {
  description = "Role the release workflow assumes to push images (GitHub variable AWS_PUSH_ROLE_ARN)."
  value       = module.push_role.role_arn
}

output "destroy_role_arn" {
  description = "Role the destroy workflow assumes to tear a service stack down (GitHub variable AWS_DESTROY_ROLE_ARN)."
  value       = module.destroy_role.role_arn
}

output "github_oidc_provider_arn" {
  description = "ARN of GitHub's OIDC provider in this account."
  value       = module.github_oidc.arn
}
