variable "name" {
  description = "Name of the ECS Express service, of its cluster, and prefix of its other resources."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "Use up to 40 letters, digits, '-' or '_', starting with a letter."
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
  description = "ARN of the ECR repository the image is in; the execution role may read only it."
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
  description = "HTTP path the load balancer probes; 200 means healthy, and a draining task answers 503."
  type        = string
  default     = "/healthz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "The path starts with /."
  }
}

variable "cpu" {
  description = "CPU units per task (256 is 0.25 vCPU)."
  type        = string
  default     = "256"

  validation {
    condition     = contains(["256", "512", "1024", "2048", "4096"], var.cpu)
    error_message = "Fargate CPU units are 256, 512, 1024, 2048 or 4096."
  }
}

variable "memory" {
  description = "Memory per task in MiB; Fargate allows only certain pairs with cpu."
  type        = string
  default     = "512"

  validation {
    condition     = can(regex("^[0-9]+$", var.memory)) && tonumber(var.memory) >= 512 && tonumber(var.memory) <= 8192
    error_message = "Express services take 512 to 8192 MiB."
  }
}

variable "min_tasks" {
  description = "Tasks always running. Two, in two availability zones, survive the loss of one."
  type        = number
  default     = 2

  validation {
    condition     = var.min_tasks >= 1
    error_message = "Run at least one task."
  }
}

variable "max_tasks" {
  description = "Most tasks the service may run: the cost cap."
  type        = number
  default     = 6

  validation {
    condition     = var.max_tasks >= 1 && var.max_tasks <= 100
    error_message = "Run 1 to 100 tasks at most."
  }
}

variable "scaling_metric" {
  description = "What scaling tracks: AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET."
  type        = string
  default     = "AVERAGE_CPU"

  validation {
    condition     = contains(["AVERAGE_CPU", "AVERAGE_MEMORY", "REQUEST_COUNT_PER_TARGET"], var.scaling_metric)
    error_message = "Use AVERAGE_CPU, AVERAGE_MEMORY or REQUEST_COUNT_PER_TARGET."
  }
}

variable "scaling_target_value" {
  description = "Target of the scaling metric: a percentage for CPU and memory, requests per target for REQUEST_COUNT_PER_TARGET."
  type        = number
  default     = 60

  validation {
    condition     = var.scaling_target_value > 0
    error_message = "The target is positive."
  }
}

variable "subnets" {
  description = "Subnets for the tasks (at least two); null for the default VPC's."
  type        = list(string)
  default     = null

  validation {
    condition     = var.subnets == null ? true : length(var.subnets) >= 2
    error_message = "Give at least two subnets, or null."
  }
}

variable "security_groups" {
  description = "Security groups for the tasks; null for the VPC's default."
  type        = list(string)
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep the service's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "Use a retention CloudWatch Logs accepts, such as 30, 90, 365 or 731."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the log group; its policy must let CloudWatch Logs use it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Pass the ARN of a KMS key."
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

variable "tags" {
  description = "Tags for every resource of the service."
  type        = map(string)
  default     = {}
}
