variable "name" {
  description = "Project name: the service stacks name their resources after it, and tag their KMS keys Project = <name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "Use 2 to 31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "github_repository" {
  description = "The repository whose destroy workflow may assume the role, as owner/name."
  type        = string
}

variable "subjects" {
  description = "Token subjects allowed to assume the role, e.g. [\"environment:destroy\"]."
  type        = list(string)
}

variable "oidc_provider_arn" {
  description = "ARN of GitHub's OIDC provider in this account."
  type        = string
}

variable "state_bucket" {
  description = "Name of the S3 bucket holding Terraform state (from infra/bootstrap)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "Give the state bucket's name, as scripts/bootstrap.sh printed it."
  }
}

variable "state_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the state (infra/bootstrap's)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.state_kms_key_arn))
    error_message = "Pass the ARN of a KMS key."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}

variable "probe_metrics_region" {
  description = "Where the service stacks keep the probe's alarms, topics and key (their probe_metrics_region)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.probe_metrics_region))
    error_message = "probe_metrics_region is a region name such as us-east-1."
  }
}
