# GitHub Actions' OIDC identity provider: workflows trade their signed token
# for short-lived AWS credentials, so no access key is ever stored.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  url = "https://token.actions.githubusercontent.com"
  # IAM names the provider after its host, so its ARN is known; looking it
  # up by url would list every provider in the account first.
  arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create ? 1 : 0

  url            = local.url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create ? 0 : 1

  arn = local.arn
}
