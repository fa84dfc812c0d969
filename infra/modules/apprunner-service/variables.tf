variable "name" {
  description = "Name of the App Runner service and prefix of its other resources."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{3,39}$", var.name))
    error_message = "App Runner service names are 4 to 40 letters, digits, '-' or '_', starting with a letter or digit."
  }
}

variable "image" {
  description = "The image to run, by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>. Never a tag."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "The image must be a private ECR reference by digest (…@sha256:<64 hex digits>), never a tag."
  }
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository the image is in; the access role may read only it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", var.ecr_repository_arn))
    error_message = "Pass the ARN of an ECR repository."
  }
}

variable "port" {
  description = "Port the service listens on in the container (the binary's PORT default)."
  type        = number
  default     = 8080

  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "A TCP port is 1 to 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path App Runner probes; 200 means healthy, and a draining instance answers 503."
  type        = string
  default     = "/healthz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "The path starts with /."
  }
}

variable "cpu" {
  description = "CPU units per instance (256 is 0.25 vCPU)."
  type        = string
  default     = "256"

  validation {
    condition     = contains(["256", "512", "1024", "2048", "4096"], var.cpu)
    error_message = "App Runner offers 256, 512, 1024, 2048 or 4096 CPU units."
  }
}

variable "memory" {
  description = "Memory per instance in MB (512 is 0.5 GB)."
  type        = string
  default     = "512"

  validation {
    condition     = contains(["512", "1024", "2048", "3072", "4096", "6144", "8192", "10240", "12288"], var.memory)
    error_message = "App Runner offers 512 to 12288 MB in its fixed steps."
  }
}

variable "min_size" {
  description = "Instances always running; at least 1, so there is no cold start."
  type        = number
  default     = 1

  validation {
    condition     = var.min_size >= 1 && var.min_size <= 25
    error_message = "App Runner runs 1 to 25 instances at minimum."
  }
}

variable "max_size" {
  description = "Most instances App Runner may run: the cost cap."
  type        = number
  default     = 4

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 25
    error_message = "App Runner runs at most 25 instances by default quota."
  }
}

variable "max_concurrency" {
  description = "Concurrent requests per instance before App Runner adds one."
  type        = number
  default     = 100

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 200
    error_message = "App Runner accepts a concurrency of 1 to 200."
  }
}

variable "environment" {
  description = "Environment variables for the service (see sre-kata --help); PORT is set from var.port."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.environment), "PORT")
    error_message = "Set the port with var.port, not in the environment."
  }
}

variable "web_acl_arn" {
  description = "ARN of the regional WAF web ACL to put in front of the service."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.web_acl_arn))
    error_message = "Pass the ARN of a REGIONAL WAF web ACL."
  }
}

variable "tags" {
  description = "Tags for every resource of the service."
  type        = map(string)
  default     = {}
}
