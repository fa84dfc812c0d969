# The service on App Runner: the image by digest with automatic deployments
# off (deploys happen by Terraform only), an HTTP health check, its own
# scaling limits, tracing, and a WAF web ACL in front.

resource "aws_iam_role" "access" {
  name        = "${var.name}-apprunner-access"
  description = "Lets App Runner pull ${var.name} images from its ECR repository."
  tags        = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "build.apprunner.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "ecr_read" {
  statement {
    sid = "ReadThisRepository"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid     = "LogInToTheRegistry"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions.
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "ecr_read" {
  name   = "ecr-read"
  role   = aws_iam_role.access.id
  policy = data.aws_iam_policy_document.ecr_read.json
}

resource "aws_apprunner_auto_scaling_configuration_version" "this" {
  auto_scaling_configuration_name = var.name
  min_size                        = var.min_size
  max_size                        = var.max_size
  max_concurrency                 = var.max_concurrency
  tags                            = var.tags
}

resource "aws_apprunner_observability_configuration" "this" {
  observability_configuration_name = var.name
  tags                             = var.tags

  trace_configuration {
    vendor = "AWSXRAY"
  }
}

resource "aws_apprunner_service" "this" {
  service_name                   = var.name
  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.this.arn
  tags                           = var.tags

  source_configuration {
    # A new image reaches the service only through Terraform, by digest.
    auto_deployments_enabled = false

    authentication_configuration {
      access_role_arn = aws_iam_role.access.arn
    }

    image_repository {
      image_identifier      = var.image
      image_repository_type = "ECR"

      image_configuration {
        port                          = tostring(var.port)
        runtime_environment_variables = merge({ LOG_FORMAT = "json" }, var.environment)
      }
    }
  }

  instance_configuration {
    cpu    = var.cpu
    memory = var.memory
  }

  # Forces replacement, and a replaced service gets a new URL: chosen once.
  health_check_configuration {
    protocol            = "HTTP"
    path                = var.health_check_path
    interval            = 10
    timeout             = 5
    healthy_threshold   = 1
    unhealthy_threshold = 3
  }

  network_configuration {
    ingress_configuration {
      is_publicly_accessible = true
    }

    egress_configuration {
      egress_type = "DEFAULT"
    }
  }

  observability_configuration {
    observability_enabled           = true
    observability_configuration_arn = aws_apprunner_observability_configuration.this.arn
  }

  # The role must be able to pull before App Runner first tries to.
  depends_on = [aws_iam_role_policy.ecr_read]
}

resource "aws_wafv2_web_acl_association" "this" {
  resource_arn = aws_apprunner_service.this.arn
  web_acl_arn  = var.web_acl_arn
}
