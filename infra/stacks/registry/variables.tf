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
