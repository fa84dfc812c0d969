# The image registry: tags are immutable, because deployments name images by
# digest and a tag must never move under them; every push is scanned. The
# release workflow's cosign signatures and attestations live here too.

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    # The AWS-managed key: pullers (App Runner, ECS) need no key grants.
    encryption_type = "KMS"
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images: leftovers of interrupted pushes."
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        # An image a rule selects by its tags is never expired by a later
        # rule: the images recorded as good (scripts/last-good.sh tags them
        # good-<digest>) are kept here, however many pushes follow them.
        rulePriority = 2
        description  = "Keep the newest images that passed a smoke test: the rollback targets."
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["good-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_good_images
        }
        action = { type = "expire" }
      },
      {
        # cosign keeps an image's signature and its SBOM attestation as
        # images of their own, tagged sha256-<digest>.sig and .att. Chosen
        # here, rule 4 cannot expire them, so they do not go before their
        # images: a rollback checks the signature.
        rulePriority = 3
        description  = "Keep the newest signatures and attestations (sha256-<digest>.sig, .att)."
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["sha256-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_signatures
        }
        action = { type = "expire" }
      },
      {
        # A later rule still counts the images an earlier one chose, and a
        # release is three images (itself, its .sig and its .att), so the
        # newest keep_images releases need three times as many.
        rulePriority = 4
        description  = "Keep the newest images; older ones can no longer be rolled back to."
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 3 * var.keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
