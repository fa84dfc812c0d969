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
}
