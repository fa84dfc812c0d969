# What both deployment targets share: the image repository, GitHub's OIDC
# provider, and the role the release workflow pushes images with.

provider "aws" {
  default_tags {
    tags = merge({ Project = var.name, ManagedBy = "terraform", Stack = "registry" }, var.tags)
  }
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
