output "health_check_id" {
  description = "Id of the Route 53 health check: the HealthCheckId dimension of its metrics."
  value       = aws_route53_health_check.this.id
}

output "health_check_arn" {
  description = "ARN of the health check."
  value       = aws_route53_health_check.this.arn
}

output "metric" {
  description = "The share of checkers that found the endpoint healthy, as a CloudWatch metric (us-east-1)."
  value = {
    namespace   = "AWS/Route53"
    metric_name = "HealthCheckPercentageHealthy"
    dimensions  = { HealthCheckId = aws_route53_health_check.this.id }
  }
}
