variable "name" {
  description = "Folder of the saved queries in the console: each is <name>/<query>."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "log_group_names" {
  description = "The log groups holding the service's JSON lines."
  type        = list(string)

  validation {
    condition     = length(var.log_group_names) >= 1
    error_message = "Give at least one log group."
  }
}

variable "latency_threshold_ms" {
  description = "The latency SLO's threshold: slow-requests counts the requests above it."
  type        = number
}
