# What both deployment targets share: the image repository, GitHub's OIDC
# provider, the role the release workflow pushes images with, and the role
# the destroy workflow tears a service stack down with. The destroy role
# lives here, outside the stacks it deletes, so that it never deletes itself
# halfway through.

provider "aws" {
  default_tags {
    # The project tags come last, so that var.tags cannot change them: the
    # CI roles find the stacks' KMS keys by them.
    tags = merge(var.tags, { Project = var.name, ManagedBy = "terraform", Stack = "registry" })
  }
}

data "aws_kms_alias" "state" {
  name = "alias/${var.name}-tfstate"
}

module "repository" {
  source = "../../modules/ecr"

  name        = var.name
  keep_images = var.keep_images
}

module "github_oidc" {
  source = "../../modules/github-oidc-provider"

  create = var.create_github_oidc_provider
}

data "aws_iam_policy_document" "push" {
  statement {
    sid = "PushToThisRepositoryOnly"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [module.repository.repository_arn]
  }

  statement {
    sid     = "LogInToTheRegistry"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions.
    resources = ["*"]
  }
}

module "push_role" {
  source = "../../modules/github-actions-role"

  name              = "${var.name}-github-push"
  description       = "Pushes ${var.name} images to their ECR repository from GitHub Actions."
  oidc_provider_arn = module.github_oidc.arn
  github_repository = var.github_repository
  subjects          = var.push_subjects
  policy_json       = data.aws_iam_policy_document.push.json
}

module "destroy_role" {
  source = "../../modules/destroy-role"

  name              = var.name
  github_repository = var.github_repository
  subjects          = var.destroy_subjects
  oidc_provider_arn = module.github_oidc.arn
  state_bucket      = var.state_bucket
  state_kms_key_arn = data.aws_kms_alias.state.target_key_arn

  probe_metrics_region = var.probe_metrics_region
}
