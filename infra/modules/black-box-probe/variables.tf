variable "name" {
  description = "Name of the health check (its Name tag, which the Route 53 console shows)."
  type        = string
}

variable "host" {
  description = "The service's public host name, without scheme or path."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.host)) && length(var.host) <= 255
    error_message = "Give a host name such as abc.ecs.eu-west-1.on.aws, without scheme or path."
  }
}

variable "path" {
  description = "Path and query the checkers request: a real question with a known answer."
  type        = string
  default     = "/query?param=acx333x"

  validation {
    condition     = startswith(var.path, "/") && length(var.path) <= 255
    error_message = "The path starts with / and has at most 255 characters."
  }
}

variable "expect" {
  description = "What the body must hold (within its first 5,120 bytes) for the answer to count as right."
  type        = string
  default     = "{\"count\":2}"

  validation {
    condition     = length(var.expect) >= 1 && length(var.expect) <= 255
    error_message = "The expected string has 1 to 255 characters."
  }
}

variable "checker_regions" {
  description = "Regions the checkers probe from: at least three of Route 53's checker regions."
  type        = list(string)
  default     = ["us-east-1", "eu-west-1", "ap-southeast-1"]

  validation {
    # Route 53's checker regions (HealthCheckConfig, Regions).
    condition = length(var.checker_regions) >= 3 && length(distinct(var.checker_regions)) == length(var.checker_regions) && alltrue([
      for r in var.checker_regions : contains(["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"], r)
    ])
    error_message = "Give at least three distinct Route 53 checker regions: us-east-1, us-west-1, us-west-2, eu-west-1, ap-southeast-1, ap-southeast-2, ap-northeast-1, sa-east-1."
  }
}

variable "request_interval" {
  description = "Seconds between two requests of one checker: 30, or 10 (which costs more)."
  type        = number
  default     = 30

  validation {
    condition     = contains([10, 30], var.request_interval)
    error_message = "The interval is 10 or 30 seconds."
  }
}

variable "failure_threshold" {
  description = "Consecutive failures before a checker calls the endpoint unhealthy (1 to 10)."
  type        = number
  default     = 3

  validation {
    condition     = var.failure_threshold >= 1 && var.failure_threshold <= 10
    error_message = "The threshold is 1 to 10."
  }
}

variable "metrics_region" {
  description = "Where Route 53 publishes the health check's metrics, and so where its alarms, topics and key live: us-east-1 in the aws partition."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.metrics_region))
    error_message = "metrics_region is a region name such as us-east-1."
  }
}

variable "objective_percent" {
  description = "The share of minutes in which Route 53 finds the endpoint healthy that the probe's SLO promises (the stack's availability objective)."
  type        = number
}

variable "window_days" {
  description = "The SLO window, in days."
  type        = number
}

variable "page_email" {
  description = "E-mail address subscribed to the probe's page topic; null for none."
  type        = string
  default     = null
}

variable "ticket_email" {
  description = "E-mail address subscribed to the probe's ticket topic; null for none."
  type        = string
  default     = null
}

variable "runbook_url" {
  description = "The runbook section of the probe's alerts."
  type        = string
}

variable "tags" {
  description = "Tags for the health check, the key, the topics and the alarms."
  type        = map(string)
  default     = {}
}
