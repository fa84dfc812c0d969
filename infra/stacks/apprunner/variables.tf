variable "name" {
  description = "Project name: the service, its ECR repository, and the prefix of every resource."
  type        = string
  default     = "sre-kata"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{3,30}$", var.name))
    error_message = "Use 4 to 31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "image" {
  description = "The image to deploy, by digest, as scripts/push.sh printed it: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>."
  type        = string
}

variable "github_repository" {
  description = "The GitHub repository allowed to deploy, as owner/name."
  type        = string
}

variable "deploy_subjects" {
  description = "OIDC token subjects that may deploy: the release workflow's deploy job runs in the production environment."
  type        = list(string)
  default     = ["environment:production"]
}

variable "state_bucket" {
  description = "The Terraform state bucket (scripts/bootstrap.sh prints it; scripts/deploy.sh passes TF_STATE_BUCKET)."
  type        = string
}

variable "cpu" {
  description = "CPU units per instance (256 is 0.25 vCPU)."
  type        = string
  default     = "256"
}

variable "memory" {
  description = "Memory per instance in MB (512 is 0.5 GB)."
  type        = string
  default     = "512"
}

variable "min_size" {
  description = "Instances always running (at least 1: no cold starts)."
  type        = number
  default     = 1
}

variable "max_size" {
  description = "Most instances: the cost cap, and the at-max-capacity alarm's threshold."
  type        = number
  default     = 4
}

variable "max_concurrency" {
  description = "Concurrent requests per instance before App Runner scales out."
  type        = number
  default     = 100
}

variable "environment" {
  description = "Extra environment variables for the service (see sre-kata --help)."
  type        = map(string)
  default     = {}
}

variable "rate_limit_per_ip" {
  description = "Requests per client IP per 5 minutes before WAF blocks it."
  type        = number
  default     = 2000
}

variable "log_retention_days" {
  description = "Days to keep WAF logs."
  type        = number
  default     = 365
}

variable "alarm_email" {
  description = "E-mail address for alarm notifications; null for none."
  type        = string
  default     = null
}

variable "error_rate_threshold_percent" {
  description = "Alarm above this percentage of 5xx responses."
  type        = number
  default     = 1
}

variable "latency_p99_threshold_ms" {
  description = "Alarm above this p99 request latency, in milliseconds."
  type        = number
  default     = 250
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
