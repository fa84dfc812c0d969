variable "name" {
  description = "Prefix of the alarm names."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "topic_arn" {
  description = "SNS topic the alarms notify: the stack's ticket topic."
  type        = string
}

variable "runbook_url" {
  description = "docs/operations.md as the operators read it: each alarm's description ends with a link to its section."
  type        = string

  validation {
    condition     = can(regex("^https://[^ #]+$", var.runbook_url))
    error_message = "Give an https URL without a fragment."
  }
}

variable "refused_metric" {
  description = "The metric counting requests refused as malformed (summed per minute), or null where the platform's logs cannot give it (App Runner)."
  type = object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  })
  default = null
}

variable "refused_per_minute_threshold" {
  description = "Refused requests a minute above which the refused-surge alarm fires (3 minutes out of 5)."
  type        = number
  default     = 60

  validation {
    condition     = var.refused_per_minute_threshold >= 1
    error_message = "The threshold must be at least 1 request a minute."
  }
}

variable "capacity_metric" {
  description = "The metric counting running instances or tasks."
  type = object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  })
}

variable "max_capacity" {
  description = "The scaling maximum: running at it for 15 minutes means demand may exceed it."
  type        = number

  validation {
    condition     = var.max_capacity >= 1
    error_message = "The maximum capacity is at least 1."
  }
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}
