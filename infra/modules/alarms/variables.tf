variable "name" {
  description = "Prefix of the alarm names and name of the SNS topic."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; null for none. AWS mails a confirmation link first."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "Give an e-mail address, or null."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the SNS topic; its policy must let CloudWatch alarms use it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Pass the ARN of a KMS key."
  }
}

variable "requests_metric" {
  description = "The metric counting requests (summed per minute)."
  type = object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  })
}

variable "server_errors_metric" {
  description = "The metric counting 5xx responses (summed per minute)."
  type = object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  })
}

variable "latency_metric" {
  description = "The request latency metric, and how many of its units make a millisecond (1 for ms, 1000 for µs)."
  type = object({
    namespace    = string
    metric_name  = string
    dimensions   = map(string)
    units_per_ms = number
  })

  validation {
    condition     = var.latency_metric.units_per_ms > 0
    error_message = "units_per_ms must be positive."
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

variable "error_rate_threshold_percent" {
  description = "Alarm when more than this share of requests fail with 5xx."
  type        = number
  default     = 1

  validation {
    condition     = var.error_rate_threshold_percent > 0 && var.error_rate_threshold_percent <= 100
    error_message = "The threshold is a percentage above 0."
  }
}

variable "error_rate_min_requests" {
  description = "Minutes with fewer requests than this do not count towards the error-rate alarm, so that one failure in two requests does not page anyone."
  type        = number
  default     = 10

  validation {
    condition     = var.error_rate_min_requests >= 1
    error_message = "At least one request."
  }
}

variable "latency_p99_threshold_ms" {
  description = "Alarm when the 99th percentile of request latency exceeds this many milliseconds."
  type        = number
  default     = 250

  validation {
    condition     = var.latency_p99_threshold_ms > 0
    error_message = "The threshold is positive."
  }
}

variable "tags" {
  description = "Tags for the topic and the alarms."
  type        = map(string)
  default     = {}
}
