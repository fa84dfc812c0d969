output "web_acl_arn" {
  description = "ARN of the web ACL, to associate with a resource."
  value       = aws_wafv2_web_acl.this.arn
}

output "log_group_arn" {
  description = "ARN of the web ACL's log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group holding every request the web ACL saw."
  value       = aws_cloudwatch_log_group.this.name
}
