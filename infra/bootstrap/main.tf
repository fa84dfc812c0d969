# The S3 bucket that holds every other stack's Terraform state, with native
# S3 locking (use_lockfile = true, Terraform >= 1.10, no DynamoDB table).
# This stack itself keeps local state: it is run once, by scripts/bootstrap.sh.

provider "aws" {
  default_tags {
    # The project tags come last, so that var.tags cannot change them: the
    # CI roles find the stacks' KMS keys by them.
    tags = merge(var.tags, { Project = var.name, ManagedBy = "terraform", Stack = "bootstrap" })
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

module "key" {
  source = "../modules/kms-key"

  name        = "${var.name}-tfstate"
  description = "Encrypts the Terraform state of ${var.name}."
}

resource "aws_s3_bucket" "state" {
  # checkov:skip=CKV_AWS_18: access logs need a second bucket of their own; audit state access with CloudTrail data events instead
  # checkov:skip=CKV_AWS_144: versioning already protects the state; a replica in another region doubles cost for little
  # checkov:skip=CKV2_AWS_62: nothing consumes events from the state bucket
  bucket = "${var.name}-tfstate-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.region}"

  # Losing state means re-importing everything: never destroy it by accident.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = module.key.key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "DenyAnythingButTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # A write that asks for other encryption than KMS (Terraform sends AES256
  # when a backend lacks kms_key_id) would override the default below.
  # Writes that ask for none get the default, so they pass.
  statement {
    sid       = "DenyStateNotEncryptedWithKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}
