variable "name" {
  description = "Name of the web ACL; its log group is aws-waf-logs-<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,115}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-', up to 115 characters."
  }
}

variable "rate_limit_per_ip" {
  description = "Requests one client IP may make in any 5-minute window before it is blocked."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit_per_ip >= 10 && var.rate_limit_per_ip <= 2000000000
    error_message = "AWS WAF accepts rate limits from 10 to 2,000,000,000."
  }
}

variable "log_retention_days" {
  description = "Days to keep WAF logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "Use a retention CloudWatch Logs accepts, such as 30, 90, 365 or 731."
  }
}

variable "host" {
  description = "The service's host name, where the protected resource serves others too (ECS Express Mode's shared load balancer): requests for any other host then pass untouched and unlogged. null where the resource is the service's alone."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the WAF log group; its policy must let CloudWatch Logs use it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Pass the ARN of a KMS key."
  }
}

variable "tags" {
  description = "Tags for the web ACL and its log group."
  type        = map(string)
  default     = {}
}
