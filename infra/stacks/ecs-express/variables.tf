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
  description = "CPU units per task (256 is 0.25 vCPU)."
  type        = string
  default     = "256"
}

variable "memory" {
  description = "Memory per task in MiB."
  type        = string
  default     = "512"
}

variable "min_tasks" {
  description = "Tasks always running; two spread over availability zones survive losing one."
  type        = number
  default     = 2
}

variable "max_tasks" {
  description = "Most tasks: the cost cap, and the at-max-capacity alarm's threshold."
  type        = number
  default     = 6
}

variable "scaling_metric" {
  description = "What scaling tracks: AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET."
  type        = string
  default     = "AVERAGE_CPU"
}

variable "scaling_target_value" {
  description = "Target of the scaling metric (a percentage for CPU and memory)."
  type        = number
  default     = 60
}

variable "subnets" {
  description = "Subnets for the tasks (at least two); null for the default VPC's."
  type        = list(string)
  default     = null
}

variable "security_groups" {
  description = "Security groups for the tasks; null for the VPC's default."
  type        = list(string)
  default     = null
}

variable "load_balancer_arn" {
  description = "ARN of the load balancer Express Mode serves the service from, to put the WAF web ACL in front of it. scripts/deploy.sh looks it up from the service revision and passes it: Express Mode does not export it to Terraform. null before the service exists."
  type        = string
  default     = null

  validation {
    condition     = var.load_balancer_arn == null || can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/", var.load_balancer_arn))
    error_message = "Pass the ARN of an application load balancer, or null."
  }
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
  description = "Days to keep the service's and WAF's logs."
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
