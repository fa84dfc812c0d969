terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exactly one release, so that a new one cannot change a release's plan
      # (or its rollback's) unannounced; upgrade it here, on purpose.
      version = "= 6.62.0"
    }
  }

  # Bucket and region come from `terraform init -backend-config=...`
  # (scripts/deploy.sh passes them from TF_STATE_BUCKET and AWS_REGION).
  backend "s3" {
    key          = "apprunner/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
    # Without a key, `encrypt` sends AES256 on every write, overriding the
    # bucket's KMS default. The alias is infra/bootstrap's state key.
    kms_key_id = "alias/sre-kata-tfstate"
  }
}
