variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "ECR repository names are lower-case letters, digits and . _ - /, up to 256 characters."
  }
}

variable "keep_images" {
  description = "How many images to keep, newest first. Rollback can only go back this far."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_images >= 5 && var.keep_images <= 1000 && floor(var.keep_images) == var.keep_images
    error_message = "Keep 5 to 1000 images, so that a rollback target always exists."
  }
}

variable "keep_good_images" {
  description = "How many images recorded as good (tagged good-<digest> by scripts/last-good.sh) to keep, newest first, beyond keep_images."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_good_images >= 1 && var.keep_good_images <= 100 && floor(var.keep_good_images) == var.keep_good_images
    error_message = "Keep 1 to 100 good images: the last good one is the rollback target."
  }
}

variable "keep_signatures" {
  description = "How many cosign signatures and attestations (tags sha256-<digest>.sig and .att, two per release) to keep, newest first. Keep more than twice keep_images plus keep_good_images, so that every image kept stays verifiable."
  type        = number
  default     = 1000

  validation {
    condition     = var.keep_signatures >= 2 * (var.keep_images + var.keep_good_images) && var.keep_signatures <= 10000 && floor(var.keep_signatures) == var.keep_signatures
    error_message = "Keep at least two signatures and attestations per image kept (2 x (keep_images + keep_good_images)), and at most 10000."
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
