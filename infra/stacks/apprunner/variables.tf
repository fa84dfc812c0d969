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

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "alarm_email" {
  description = "Replaced by page_email and ticket_email: alerts now page or open a ticket, on topics of their own. Kept only to refuse an old setting rather than drop its notifications silently."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null
    error_message = "alarm_email is gone: set page_email (alerts that need someone now) and ticket_email (within days) instead, in terraform.tfvars (docs/slo.md)."
  }
}

variable "page_email" {
  description = "E-mail address subscribed to the page topics (alerts that need someone now); null for none. Subscribe a pager to <name>-<stack>-page and <name>-<stack>-probe-page instead, if you have one."
  type        = string
  default     = null
}

variable "ticket_email" {
  description = "E-mail address subscribed to the ticket topics (alerts that need someone within days); null for none."
  type        = string
  default     = null
}

variable "availability_objective_percent" {
  description = "Availability SLO: the share of valid requests (not the client's own 4xx) answered without a 5xx over the SLO window, in percent. Every availability and probe burn-rate threshold follows from it (docs/slo.md)."
  type        = number
  default     = 99.9

  validation {
    condition     = var.availability_objective_percent >= 90 && var.availability_objective_percent < 100
    error_message = "availability_objective_percent is at least 90 and below 100: at 100 there is no error budget to alert on."
  }
}

variable "latency_objective_percent" {
  description = "Latency SLO: the share of requests answered within latency_threshold_ms over the SLO window, in percent."
  type        = number
  default     = 99

  validation {
    condition     = var.latency_objective_percent >= 50 && var.latency_objective_percent < 100
    error_message = "latency_objective_percent is at least 50 and below 100."
  }
}

variable "latency_threshold_ms" {
  description = "Latency SLO: a request answered within this many milliseconds, measured at the edge, is fast enough."
  type        = number
  default     = 100

  validation {
    condition     = var.latency_threshold_ms >= 1 && var.latency_threshold_ms <= 60000 && floor(var.latency_threshold_ms) == var.latency_threshold_ms
    error_message = "latency_threshold_ms is a whole number of milliseconds from 1 to 60000."
  }
}

variable "slo_window_days" {
  description = "The SLOs' window, in days: each error budget is spent over it."
  type        = number
  default     = 30

  validation {
    condition     = var.slo_window_days >= 7 && var.slo_window_days <= 90 && floor(var.slo_window_days) == var.slo_window_days
    error_message = "slo_window_days is a whole number from 7 to 90."
  }
}

variable "slo_min_valid_requests" {
  description = "An alert window with fewer valid requests than this counts as meeting the SLO, so that a few failures in a quiet night do not page anyone."
  type        = number
  default     = 10

  validation {
    condition     = var.slo_min_valid_requests >= 1 && floor(var.slo_min_valid_requests) == var.slo_min_valid_requests
    error_message = "slo_min_valid_requests is a whole number, at least 1."
  }
}

variable "probe_metrics_region" {
  description = "Where Route 53 publishes health-check metrics, and so where the probe's alarms, topics and key live: us-east-1 in the aws partition."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.probe_metrics_region))
    error_message = "probe_metrics_region is a region name such as us-east-1."
  }
}

variable "probe_checker_regions" {
  description = "Regions the Route 53 health checkers probe the service from: at least three."
  type        = list(string)
  default     = ["us-east-1", "eu-west-1", "ap-southeast-1"]

  validation {
    condition     = length(var.probe_checker_regions) >= 3
    error_message = "probe_checker_regions names at least three regions."
  }
}
