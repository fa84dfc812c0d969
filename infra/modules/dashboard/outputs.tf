output "dashboard_name" {
  description = "Name of the dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "url" {
  description = "The dashboard in the CloudWatch console."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "dashboard_arn" {
  description = "ARN of the dashboard (global: it has no region)."
  value       = aws_cloudwatch_dashboard.this.dashboard_arn
}
