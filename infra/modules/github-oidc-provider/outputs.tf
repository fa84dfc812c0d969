output "arn" {
  description = "ARN of GitHub's OIDC provider in this account."
  value       = var.create ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}
