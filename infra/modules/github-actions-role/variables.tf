variable "name" {
  description = "Name of the IAM role."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "IAM role names are up to 64 characters of letters, digits and +=,.@_-."
  }
}

variable "description" {
  description = "What the role may do."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of GitHub's OIDC provider in this account."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "Pass the ARN of the token.actions.githubusercontent.com OIDC provider."
  }
}

variable "github_repository" {
  description = "The repository whose workflows may assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "Give the repository as owner/name, without wildcards."
  }
}

variable "subjects" {
  description = "Token subjects allowed after repo:<owner>/<name>:, exactly: e.g. ref:refs/heads/main or environment:production. No wildcards."
  type        = list(string)

  validation {
    condition     = length(var.subjects) > 0 && alltrue([for s in var.subjects : can(regex("^(ref:refs/heads/[A-Za-z0-9._/-]+|environment:[A-Za-z0-9._-]+)$", s))])
    error_message = "Each subject is ref:refs/heads/<branch> or environment:<name>, without wildcards."
  }
}

variable "policy_json" {
  description = "The role's permissions, as an IAM policy document."
  type        = string

  validation {
    condition     = can(jsondecode(var.policy_json))
    error_message = "The policy must be a JSON document."
  }
}

variable "max_session_duration" {
  description = "Longest session, in seconds: a deploy must finish inside it."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "IAM allows 3600 to 43200 seconds."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
