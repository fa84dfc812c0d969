# The image registry: image tags are immutable, because deployments name
# images by digest and a tag must never move under them; every push is
# scanned. The release workflow's cosign signatures and attestations live
# here too, under tags of their own (sha256-<digest>.sig and .att), which
# alone stay mutable (docs/supply-chain.md): cosign adds a signature by
# rewriting that tag, and an immutable one would let anyone who may push
# (ECR cannot scope ecr:PutImage by tag) block a release's signature for
# ever by writing junk there first.

resource "aws_ecr_repository" "this" {
  # checkov:skip=CKV_AWS_51: every tag is immutable but cosign's signature and attestation tags (sha256-*.sig, .att), which cosign must rewrite to add a signature; images are deployed by digest
  name                 = var.name
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = ["sha256-*.sig", "sha256-*.att"]

    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }

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
        # Each image is decided by the highest-priority rule that selects
        # it, and a lower rule never expires it (ECR's lifecycle
        # evaluation). scripts/last-good.sh tags a release recorded as good
        # good-<hex>, and its signature and attestation good-<hex>.sig and
        # .att: three images a release. This rule keeps the newest
        # max(keep_images, keep_good_images) good releases whole, so every
        # good one among the newest keep_images pushes, and the last good
        # one however many pushes follow it, can be rolled back to and
        # verified.
        rulePriority = 2
        description  = "Keep the releases recorded as good, with their signatures: the rollback targets."
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["good-"]
          countType     = "imageCountMoreThan"
          countNumber   = 3 * max(var.keep_images, var.keep_good_images)
        }
        action = { type = "expire" }
      },
      {
        # cosign's signature and attestation of every other release (two
        # images each): kept for the newest keep_images releases, like
        # their images below, and expired with them after.
        rulePriority = 3
        description  = "Keep the signatures and attestations (sha256-<digest>.sig, .att) of the newest images."
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["sha256-"]
          countType     = "imageCountMoreThan"
          countNumber   = 2 * var.keep_images
        }
        action = { type = "expire" }
      },
      {
        # A later rule may count the images an earlier one chose, and a
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
