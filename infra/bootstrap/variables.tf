variable "name" {
  description = "Project name: the bucket is <name>-tfstate-<account>-<region>, and its key alias/<name>-tfstate."
  type        = string
  default     = "sre-kata"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,20}$", var.name))
    error_message = "Use 2 to 21 lower-case letters, digits or '-', so that the bucket name fits in 63 characters."
  }
}

variable "noncurrent_version_days" {
  description = "Days old state versions are kept, to recover from a bad apply."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7
    error_message = "Keep old state versions at least 7 days."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
