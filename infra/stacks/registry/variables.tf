variable "name" {
  description = "Project name: the ECR repository and the prefix of every resource."
  type        = string
  default     = "sre-kata"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "Use 2 to 31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "github_repository" {
  description = "The GitHub repository that builds and deploys the service, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "Give the repository as owner/name."
  }
}

variable "push_subjects" {
  description = "OIDC token subjects that may push images: the release workflow's build job runs on main."
  type        = list(string)
  default     = ["ref:refs/heads/main"]
}

variable "destroy_subjects" {
  description = "OIDC token subjects that may tear the service stacks down: the destroy workflow's job runs in the destroy environment, which requires a reviewer."
  type        = list(string)
  default     = ["environment:destroy"]
}

variable "state_bucket" {
  description = "The Terraform state bucket (scripts/bootstrap.sh prints it); the destroy role may change the service stacks' state in it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "Give the state bucket's name, as scripts/bootstrap.sh printed it."
  }
}

variable "create_github_oidc_provider" {
  description = "Whether to create GitHub's OIDC provider; false if the account already has one."
  type        = bool
  default     = true
}

variable "keep_images" {
  description = "How many images the repository keeps: the rollback horizon."
  type        = number
  default     = 50
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "probe_metrics_region" {
  description = "The service stacks' probe_metrics_region: the destroy role deletes their probe's alarms, topics and key there."
  type        = string
  default     = "us-east-1"
}
