output "key_arn" {
  description = "ARN of the key."
  value       = aws_kms_key.this.arn
}

output "alias_name" {
  description = "Alias of the key, or null without one."
  value       = var.create_alias ? aws_kms_alias.this[0].name : null
}
