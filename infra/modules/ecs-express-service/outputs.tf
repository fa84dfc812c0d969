output "service_url" {
  description = "HTTPS URL of the service (its Express Mode endpoint)."
  value = (
    startswith(aws_ecs_express_gateway_service.this.ingress_paths[0].endpoint, "http")
    ? aws_ecs_express_gateway_service.this.ingress_paths[0].endpoint
    : "https://${aws_ecs_express_gateway_service.this.ingress_paths[0].endpoint}"
  )
}

output "endpoint_host" {
  description = "Host name of the service's Express Mode endpoint."
  value       = trimprefix(aws_ecs_express_gateway_service.this.ingress_paths[0].endpoint, "https://")
}

output "service_arn" {
  description = "ARN of the service."
  value       = aws_ecs_express_gateway_service.this.service_arn
}

output "cluster_arn" {
  description = "ARN of the service's ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the service's ECS cluster (a metric dimension)."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the service (a metric dimension)."
  value       = aws_ecs_express_gateway_service.this.service_name
}

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "infrastructure_role_arn" {
  description = "ARN of the infrastructure role."
  value       = aws_iam_role.infrastructure.arn
}

output "log_group_arn" {
  description = "ARN of the service's log group."
  value       = aws_cloudwatch_log_group.service.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the service."
  value       = aws_cloudwatch_log_group.service.name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the Requests, ServerErrors and RequestDuration metrics derived from the logs."
  value       = local.metrics_namespace
}

output "service_revision_arn" {
  description = "ARN of the current service revision; its managed resources name the load balancer."
  value       = aws_ecs_express_gateway_service.this.service_revision_arn
}
