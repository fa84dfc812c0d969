variable "name" {
  description = "Prefix of every name here: the stack's, e.g. sre-kata-ecs-express."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "region" {
  description = "The stack's region, where its metrics are."
  type        = string
}

variable "docs_url" {
  description = "The repository's docs/ folder as operators read it: alarms link to docs/operations.md there."
  type        = string

  validation {
    condition     = can(regex("^https://[^ #]+$", var.docs_url))
    error_message = "Give an https URL without a fragment."
  }
}

variable "kms_key_arn" {
  description = "The stack's KMS key, which encrypts the topics; its policy must let CloudWatch alarms use it."
  type        = string
}

variable "slis" {
  description = "The stack's SLIs at the edge, by SLO name (availability, latency): what each promises, its objective in percent, and its bad and valid events as metric math over its metrics (infra/modules/slo-alarms). Empty while there is nothing to measure yet."
  type = map(object({
    promise           = string
    objective_percent = number
    metrics = map(object({
      namespace   = string
      metric_name = string
      dimensions  = map(string)
      stat        = string
    }))
    bad   = string
    valid = string
  }))
}

variable "window_days" {
  description = "The SLOs' window, in days."
  type        = number
}

variable "min_valid_requests" {
  description = "An alert window with fewer valid requests than this counts as meeting the SLO."
  type        = number
}

variable "probe" {
  description = "The black-box probe: the host it asks, from which Route 53 checker regions, where Route 53 publishes its metrics, and the objective it keeps (the availability objective)."
  type = object({
    host              = string
    checker_regions   = list(string)
    metrics_region    = string
    objective_percent = number
  })
}

variable "page_email" {
  description = "E-mail address subscribed to the page topics; null for none."
  type        = string
  default     = null
}

variable "ticket_email" {
  description = "E-mail address subscribed to the ticket topics; null for none."
  type        = string
  default     = null
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

variable "refused_metric" {
  description = "The metric counting heads the service refused as malformed, or null where the platform's logs cannot give it (App Runner)."
  type = object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  })
  default = null
}

variable "latency" {
  description = "The latency metric at the edge for the dashboard's percentiles (infra/modules/dashboard); null before there is one."
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
  description = "Counts from the service's own log lines, by label, for the dashboard; empty where there are none."
  type = map(object({
    namespace   = string
    metric_name = string
    dimensions  = map(string)
  }))
  default = {}
}

variable "web_acl_metric_name" {
  description = "The WAF web ACL's metric name."
  type        = string
}

variable "log_group_names" {
  description = "The log groups holding the service's JSON lines, for the saved queries."
  type        = list(string)
}

variable "latency_threshold_ms" {
  description = "The latency SLO's threshold, in milliseconds: the saved slow-requests query counts above it."
  type        = number
}

variable "tags" {
  description = "Tags for what this module creates."
  type        = map(string)
  default     = {}
}
