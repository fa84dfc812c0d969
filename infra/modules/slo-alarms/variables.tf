variable "name" {
  description = "Prefix of the alarm names: the stack's prefix and the SLO's name, e.g. sre-kata-ecs-express-availability."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "promise" {
  description = "What the SLO promises, in words, for the alarms' descriptions (e.g. '99.9 % of valid requests answered without a 5xx over 30 days')."
  type        = string
}

variable "objective_percent" {
  description = "The share of valid events that must be good over the SLO window, in percent (99.9 leaves an error budget of 0.1 %)."
  type        = number

  validation {
    condition     = var.objective_percent > 0 && var.objective_percent < 100
    error_message = "The objective is a percentage above 0 and below 100."
  }
}

variable "window_days" {
  description = "The SLO window, in days: the error budget is spent over it."
  type        = number
  default     = 30

  validation {
    condition     = var.window_days >= 1 && var.window_days <= 90 && floor(var.window_days) == var.window_days
    error_message = "The window is a whole number of days from 1 to 90."
  }
}

variable "metrics" {
  description = "The CloudWatch metrics the SLI is computed from, by metric-math id (lower-case letters, digits and '_', starting with a letter): each one's namespace, name, dimensions and statistic."
  type = map(object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
    stat        = string
  }))

  validation {
    condition     = length(var.metrics) > 0 && alltrue([for id in keys(var.metrics) : can(regex("^[a-z][a-z0-9_]*$", id)) && !contains(["bad", "valid", "ratio"], id)])
    error_message = "Give at least one metric; ids are lower-case letters, digits and '_', starting with a letter, and not bad, valid or ratio."
  }
}

variable "bad_events" {
  description = "Metric-math expression over the metrics' ids: the bad events in a window (e.g. FILL(e5, 0))."
  type        = string
}

variable "valid_events" {
  description = "Metric-math expression over the metrics' ids: the valid events in a window, good and bad."
  type        = string
}

variable "min_valid_events" {
  description = "Windows with fewer valid events than this count as meeting the SLO, so that one failure among three requests at night does not page anyone (the workbook's low-traffic case). 0 for none."
  type        = number
  default     = 0

  validation {
    condition     = var.min_valid_events >= 0
    error_message = "The minimum is 0 or more."
  }
}

variable "alerts" {
  description = "The burn-rate alerts (Google SRE Workbook, 'Alerting on SLOs', multiwindow, multi-burn-rate): each fires when both its long and its short window spend the budget faster than budget_percent of it per long window. Each severity is one composite alarm, notifying its topic."
  type = list(object({
    severity             = string
    budget_percent       = number
    long_window_minutes  = number
    short_window_minutes = number
  }))
  default = [
    { severity = "page", budget_percent = 2, long_window_minutes = 60, short_window_minutes = 5 },
    { severity = "page", budget_percent = 5, long_window_minutes = 360, short_window_minutes = 30 },
    { severity = "ticket", budget_percent = 10, long_window_minutes = 4320, short_window_minutes = 360 },
  ]

  validation {
    condition = alltrue([for a in var.alerts :
      contains(["page", "ticket"], a.severity)
      && a.budget_percent > 0 && a.budget_percent <= 100
      && a.short_window_minutes >= 1 && a.short_window_minutes < a.long_window_minutes
      && floor(a.long_window_minutes) == a.long_window_minutes && floor(a.short_window_minutes) == a.short_window_minutes
    ])
    error_message = "Each alert is a page or a ticket, spends 0 to 100 % of the budget, and has a short window of whole minutes shorter than its long one."
  }

  validation {
    condition     = length(var.alerts) == length(distinct([for a in var.alerts : "${a.severity}-${a.long_window_minutes}"])) && length(var.alerts) == length(distinct([for a in var.alerts : "${a.severity}-${a.short_window_minutes}"]))
    error_message = "Two alerts of one severity cannot share a long or a short window: each window is an alarm named after it."
  }

  validation {
    # An error ratio is at most 1: a threshold of burn rate x budget at or
    # above it could never be crossed, and the alert would never fire.
    condition = alltrue([for a in var.alerts :
      a.budget_percent / 100 * var.window_days * 1440 / a.long_window_minutes * (100 - var.objective_percent) / 100 < 1
    ])
    error_message = "With this objective and window, an alert's threshold (burn rate x error budget) is an error ratio of 100 % or more, which can never be reached: raise the objective, shorten the window, or spend less of the budget per alert."
  }

  validation {
    # CloudWatch evaluates an alarm over at most 7 days (PutMetricAlarm).
    condition     = alltrue([for a in var.alerts : a.long_window_minutes <= 7 * 24 * 60])
    error_message = "A window is at most 7 days, the longest CloudWatch alarms evaluate."
  }
}

variable "page_topic_arn" {
  description = "SNS topic for pages, in the alarms' region."
  type        = string
}

variable "ticket_topic_arn" {
  description = "SNS topic for tickets, in the alarms' region."
  type        = string
}

variable "runbook_url" {
  description = "The runbook section of this SLO's alerts: every alarm's description ends with it."
  type        = string

  validation {
    condition     = can(regex("^https://[^ ]+#[a-z0-9-]+$", var.runbook_url))
    error_message = "Give an https URL that ends with a heading's anchor."
  }
}

variable "region" {
  description = "Region of the alarms, which must be the metrics' (Route 53 publishes health-check metrics in us-east-1 only); null for the provider's."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}
