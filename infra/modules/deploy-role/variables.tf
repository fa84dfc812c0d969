variable "name" {
  description = "Name of the service: the role is <name>-<stack>-github-deploy, and it may read the stack's resources, all named <name>…"
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "Use up to 40 letters, digits, '-' or '_', starting with a letter."
  }
}

variable "stack" {
  description = "The stack this role deploys (apprunner or ecs-express): its state lives under <stack>/ in the state bucket."
  type        = string

  validation {
    condition     = contains(["apprunner", "ecs-express"], var.stack)
    error_message = "The stack is apprunner or ecs-express."
  }
}

variable "github_repository" {
  description = "The repository whose workflows may deploy, as owner/name."
  type        = string
}

variable "subjects" {
  description = "Token subjects allowed to assume the role, e.g. [\"environment:production\"]."
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
  description = "ARN of the KMS key encrypting the state bucket."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository the service's image comes from."
  type        = string
}

variable "service_statements" {
  description = "The platform-specific permissions: updating the service and reading its parts."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
}

variable "pass_roles" {
  description = "Roles the deploy may hand to a service, each only to that service (iam:PassedToService)."
  type = list(object({
    role_arn = string
    service  = string
  }))
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
