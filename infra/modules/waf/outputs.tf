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

output "metric_name" {
  description = "The web ACL's CloudWatch metric name: the WebACL dimension of AWS/WAFV2 metrics."
  value       = aws_wafv2_web_acl.this.visibility_config[0].metric_name
}
