variable "name" {
  description = "Prefix of the topics' names: <name>-page and <name>-ticket."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "The name may hold letters, digits, '_' and '-'."
  }
}

variable "region" {
  description = "Region of the topics, which must be the alarms' region; null for the provider's."
  type        = string
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "Give a region name such as us-east-1, or null."
  }
}

variable "kms_key_arn" {
  description = "KMS key in the topics' region that encrypts them; its policy must let CloudWatch alarms use it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Pass the ARN of a KMS key."
  }
}

variable "page_email" {
  description = "E-mail address subscribed to the page topic; null for none. AWS mails a confirmation link first."
  type        = string
  default     = null

  validation {
    condition     = var.page_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.page_email))
    error_message = "Give an e-mail address, or null."
  }
}

variable "ticket_email" {
  description = "E-mail address subscribed to the ticket topic; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.ticket_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.ticket_email))
    error_message = "Give an e-mail address, or null."
  }
}

variable "tags" {
  description = "Tags for the topics."
  type        = map(string)
  default     = {}
}
