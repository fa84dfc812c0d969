variable "create" {
  description = "Whether to create the provider. An account has at most one per URL, so set false where it already exists; it is then looked up."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the provider."
  type        = map(string)
  default     = {}
}
