variable "name" {
  description = "Name of the key: its alias, if any, is alias/<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,200}$", var.name)) && !startswith(var.name, "aws/")
    error_message = "The name may hold letters, digits, '/', '_' and '-', and must not start with aws/."
  }
}

variable "create_alias" {
  description = "Whether to give the key the alias alias/<name>. Reading an alias needs kms:ListAliases on every key, so keys that CI roles refresh go without."
  type        = bool
  default     = true
}

variable "description" {
  description = "What the key encrypts."
  type        = string
}

variable "allow_cloudwatch_logs" {
  description = "Whether CloudWatch Logs may encrypt this account's log groups with the key."
  type        = bool
  default     = false
}

variable "allow_cloudwatch_alarms" {
  description = "Whether CloudWatch alarms may publish to SNS topics encrypted with the key."
  type        = bool
  default     = false
}

variable "deletion_window_in_days" {
  description = "Days a scheduled deletion of the key waits, so a mistake can be undone."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "The deletion window must be 7 to 30 days."
  }
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "Region of the key; null for the provider's. A key encrypts only in its own region, so topics elsewhere need a key there."
  type        = string
  default     = null
}
