variable "name" {
  description = "Name of the service: the role is <name>-<stack>-github-deploy, and the state key is the KMS key tagged Project = <name>, Stack = bootstrap."
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

variable "repository_arn" {
  description = "ARN of the ECR repository the images come from: the role tags the image it records as good, so the repository's lifecycle keeps it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/", var.repository_arn))
    error_message = "Give an ECR repository ARN (arn:<partition>:ecr:<region>:<account>:repository/<name>)."
  }
}

variable "refresh" {
  description = "ARNs of the stack's resources that `terraform plan` refreshes, by kind. The role may read exactly these; infra/permissions/calls.yaml lists each kind's calls."
  type = object({
    roles                    = list(string)
    kms_keys                 = list(string)
    web_acl                  = string
    protected_resources      = list(string)
    load_balancers           = list(string)
    log_groups               = list(string)
    metric_filter_log_groups = list(string)
    alarms                   = list(string)
    topics                   = list(string)
    subscribed_topics        = list(string)
    dashboards               = list(string)
    health_checks            = list(string)
    query_definitions        = bool
  })
}

variable "service_statements" {
  description = "The platform's own statements: refreshing and updating the service, and waiting for its deployment."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
}

variable "pass_roles" {
  description = "Roles an update hands to the service, each with the iam:PassedToService values allowed; an empty list for no condition, where AWS's documents disagree on the value."
  type = list(object({
    role_arn = string
    services = list(string)
  }))
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
