# GitHub Actions' OIDC identity provider: workflows trade their signed token
# for short-lived AWS credentials, so no access key is ever stored.

locals {
  url = "https://token.actions.githubusercontent.com"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create ? 1 : 0

  url            = local.url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create ? 0 : 1

  url = local.url
}
