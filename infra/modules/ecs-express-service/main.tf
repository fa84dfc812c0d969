# The service on ECS Express Mode: the image by digest behind the load
# balancer Express Mode manages, health-checked on /healthz, scaling between
# min_tasks and max_tasks, logging JSON lines to an encrypted log group from
# which request, 5xx and latency metrics are derived.

data "aws_partition" "current" {}

locals {
  metrics_namespace = "sre-kata/${var.name}"
  environment       = merge({ LOG_FORMAT = "json", PORT = tostring(var.port) }, var.environment)
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  tags = var.tags

  # Task counts per service, for the at-max-capacity alarm.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # Destroy order. Deleting the service returns once it is DRAINING; ECS
  # then removes its load balancer rule, target group and security groups
  # with the infrastructure role. The cluster's delete waits (retrying
  # while it still holds the service), so keeping the roles until the
  # cluster is gone keeps them for that clean-up.
  depends_on = [
    aws_iam_role_policy.execution,
    aws_iam_role_policy_attachment.infrastructure,
  ]
}

resource "aws_cloudwatch_log_group" "service" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "execution" {
  name        = "${var.name}-ecs-execution"
  description = "Lets ECS pull ${var.name} images and write its logs; nothing else."
  tags        = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "ReadThisRepository"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
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

  statement {
    sid       = "WriteThisLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "infrastructure" {
  name        = "${var.name}-ecs-infrastructure"
  description = "Lets ECS Express Mode manage the load balancer, security groups, certificate and scaling of ${var.name}."
  tags        = var.tags

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "infrastructure" {
  role = aws_iam_role.infrastructure.name
  # AWS's policy made for this role: what Express Mode provisions, no more.
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices"
}

resource "aws_ecs_express_gateway_service" "this" {
  service_name            = var.name
  cluster                 = aws_ecs_cluster.this.name
  execution_role_arn      = aws_iam_role.execution.arn
  infrastructure_role_arn = aws_iam_role.infrastructure.arn
  cpu                     = var.cpu
  memory                  = var.memory
  health_check_path       = var.health_check_path
  # deploy.sh smoke-tests right after apply: wait until the new revision serves.
  wait_for_steady_state = true
  tags                  = var.tags

  primary_container {
    image          = var.image
    container_port = var.port

    aws_logs_configuration = [{
      log_group         = aws_cloudwatch_log_group.service.name
      log_stream_prefix = var.name
    }]

    dynamic "environment" {
      for_each = local.environment

      content {
        name  = environment.key
        value = environment.value
      }
    }
  }

  network_configuration = var.subnets == null ? null : [{
    subnets         = var.subnets
    security_groups = var.security_groups
  }]

  scaling_target = [{
    auto_scaling_metric       = var.scaling_metric
    auto_scaling_target_value = var.scaling_target_value
    min_task_count            = var.min_tasks
    max_task_count            = var.max_tasks
  }]

  # The provider waits up to 30 minutes by default; the release's deploy
  # step (35 minutes) must end with Terraform's own error, not be killed
  # mid-apply with the state lock held. tests/workflows.rs checks the sum.
  timeouts {
    update = "20m"
  }

  # Deleting the roles' policies first would leave the service stuck draining.
  depends_on = [
    aws_iam_role_policy.execution,
    aws_iam_role_policy_attachment.infrastructure,
  ]
}

# The service's own access log lines become metrics: requests, 5xx, latency.
resource "aws_cloudwatch_log_metric_filter" "requests" {
  name           = "${var.name}-requests"
  log_group_name = aws_cloudwatch_log_group.service.name
  pattern        = "{ $.event = \"request\" }"

  metric_transformation {
    name          = "Requests"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

# A refused head (a 505 for HTTP/2.0 on the wire, say) is the client's
# error, whatever its status: the refused filter counts those.
resource "aws_cloudwatch_log_metric_filter" "server_errors" {
  name           = "${var.name}-5xx"
  log_group_name = aws_cloudwatch_log_group.service.name
  pattern        = "{ $.event = \"request\" && $.status >= 500 && $.error NOT EXISTS }"

  metric_transformation {
    name          = "ServerErrors"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

# Requests whose head the HTTP library refused (malformed, missing Host,
# too large, too slow): their log lines name the reason in `error`. A JSON
# pattern has no postfix EXISTS (only NOT EXISTS and IS NULL): `= "*"` is
# "the field is there", as the AWS CDK writes FilterPattern.exists.
resource "aws_cloudwatch_log_metric_filter" "refused" {
  name           = "${var.name}-refused"
  log_group_name = aws_cloudwatch_log_group.service.name
  pattern        = "{ $.event = \"request\" && $.error = \"*\" }"

  metric_transformation {
    name          = "RefusedRequests"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "latency" {
  name           = "${var.name}-latency"
  log_group_name = aws_cloudwatch_log_group.service.name
  pattern        = "{ $.event = \"request\" }"

  metric_transformation {
    name      = "RequestDuration"
    namespace = local.metrics_namespace
    value     = "$.duration_us"
    unit      = "Microseconds"
  }
}
