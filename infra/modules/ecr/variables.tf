variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "ECR repository names are lower-case letters, digits and . _ - /, up to 256 characters."
  }
}

variable "keep_images" {
  description = "How many releases to keep (each with its signature and SBOM attestation), newest first. A rollback to a digest can go back this far."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_images >= 5 && var.keep_images <= 1000 && floor(var.keep_images) == var.keep_images
    error_message = "Keep 5 to 1000 images, so that a rollback target always exists."
  }
}

variable "keep_good_images" {
  description = "How many releases recorded as good (scripts/last-good.sh tags them good-<digest>) are kept at least, newest first, however many pushes follow them. Every good one among the newest keep_images is kept too."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_good_images >= 1 && var.keep_good_images <= 100 && floor(var.keep_good_images) == var.keep_good_images
    error_message = "Keep 1 to 100 good releases: the last good one is the rollback target."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (leftovers of interrupted pushes) are deleted."
  type        = number
  default     = 1

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "The expiry is a whole number of days, at least 1."
  }
}

variable "tags" {
  description = "Tags for the repository."
  type        = map(string)
  default     = {}
}
