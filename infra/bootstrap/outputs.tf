output "state_bucket" {
  description = "Name of the state bucket: export it as TF_STATE_BUCKET for scripts/deploy.sh."
  value       = aws_s3_bucket.state.id
}

output "state_kms_key_arn" {
  description = "ARN of the KMS key encrypting the state."
  value       = module.key.key_arn
}

output "region" {
  description = "Region of the state bucket: the stacks' backends use it."
  value       = data.aws_region.current.region
}
