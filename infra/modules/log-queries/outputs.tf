output "names" {
  description = "The saved queries' names, by query."
  value       = { for k, q in aws_cloudwatch_query_definition.this : k => q.name }
}
