variable "name" {
  description = "Name of the dashboard."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name))
    error_message = "A dashboard name holds letters, digits, '_' and '-'."
  }
}

variable "region" {
  description = "The stack's region: where its metrics are, but the probe's."
  type        = string
}

variable "docs_url" {
  description = "Where the SLOs and runbooks are written (the repository's docs/ folder), linked from the dashboard's header."
  type        = string
}

variable "slos" {
  description = "The SLOs, as infra/modules/slo-alarms gives them (queries, error_budget, burn_rates), with a title, their window and the region of their metrics (null for the stack's)."
  type = list(object({
    title        = string
    region       = string
    window_days  = number
    error_budget = number
    burn_rates   = map(number)
    queries = object({
      metrics = map(object({
        namespace   = string
        metric_name = string
        dimensions  = map(string)
        stat        = string
      }))
      bad   = string
      valid = string
      ratio = string
    })
  }))
}

variable "latency" {
  description = "The request latency metric at the edge, with each of its dimension sets (one line of percentiles each), the SLO's threshold in its unit, and that unit's name; null before there is one to show."
  type = object({
    namespace      = string
    metric_name    = string
    dimension_sets = list(map(string))
    threshold      = number
    unit           = string
  })
  default = null
}

variable "service_log_metrics" {
  description = "Counts from the service's own log lines (metric filters), summed per minute, by label: what the service itself answered, beside what the edge saw. Empty where the platform gives none."
  type = map(object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  }))
  default = {}
}

variable "web_acl_metric_name" {
  description = "The WAF web ACL's metric name (its WebACL dimension)."
  type        = string
}

variable "capacity" {
  description = "The metric counting running tasks or instances, and the scaling maximum."
  type = object({
    namespace    = string
    metric_name  = string
    dimensions   = map(string)
    max_capacity = number
  })
}

variable "alert_arns" {
  description = "The alerts (composite alarms) whose state the dashboard shows."
  type        = list(string)

  validation {
    condition     = length(var.alert_arns) >= 1 && length(var.alert_arns) <= 100
    error_message = "An alarm widget shows 1 to 100 alarms."
  }
}
