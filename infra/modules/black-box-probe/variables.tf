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
  description = "Regions the checkers probe from; Route 53 needs at least three."
  type        = list(string)
  default     = ["us-east-1", "eu-west-1", "ap-southeast-1"]

  validation {
    condition     = length(var.checker_regions) >= 3 && length(distinct(var.checker_regions)) == length(var.checker_regions)
    error_message = "Give at least three distinct checker regions."
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

variable "tags" {
  description = "Tags for the health check."
  type        = map(string)
  default     = {}
}
